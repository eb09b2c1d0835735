import path from 'node:path';

/**
 * Where everything of one server lives under its data directory. One function so that the
 * server, the CLI admin commands and the tests agree on every path.
 */
export type DataLayout = {
  root: string;
  db: string;
  keysDir: string;
  adminKey: string;
  signingKey: string;
  packagesDir: string;
  roundsDir: string;
  modelsDir: string;
  /** Scratch space for staging model folders before they are renamed into place. */
  tmpDir: string;
};

export function dataLayout(dataDir: string): DataLayout {
  const root = path.resolve(dataDir);
  return {
    root,
    db: path.join(root, 'server.db'),
    keysDir: path.join(root, 'keys'),
    adminKey: path.join(root, 'keys', 'admin.key'),
    signingKey: path.join(root, 'keys', 'server-ed25519.pem'),
    packagesDir: path.join(root, 'packages'),
    roundsDir: path.join(root, 'rounds'),
    modelsDir: path.join(root, 'models'),
    tmpDir: path.join(root, 'tmp'),
  };
}

export function packagePath(layout: DataLayout, sha256: string): string {
  return path.join(layout.packagesDir, `${sha256}.safetensors`);
}

export function roundDir(layout: DataLayout, roundId: string): string {
  return path.join(layout.roundsDir, roundId);
}

export const SYNTHETIC_DIR = 'synthetic';

/** `<round>/synthetic`: `<packageSha256>/<row>-<index>.png` + `.json` per image (synthesis/image-files.ts). */
export function roundSyntheticDir(layout: DataLayout, roundId: string): string {
  return path.join(roundDir(layout, roundId), SYNTHETIC_DIR);
}

export function modelVersionDir(layout: DataLayout, studyId: string, version: number): string {
  return path.join(layout.modelsDir, studyId, String(version));
}
