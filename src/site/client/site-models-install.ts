import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { digestOfHashes, hashFile } from '../../core/models/model-digest';
import { describeSiteModel, siteModelDirs } from '../../core/models/site-model-files';
import { ModelVerificationError } from '../../core/models/verify-model-folder';
import { ModelStore } from '../../core/models/model-store';
import type { ModelFile } from '../../shared/model-manifest';
import { createProgressMeter, type ProgressListener } from '../../shared/progress';
import {
  type SiteModelPin,
  type SiteModelRole,
  type SiteModelsInstall,
  siteModelPins,
} from '../../shared/site-model-bundle';
import type { StudyManifest } from '../../shared/study';
import type { Ledger } from '../ledger/ledger';
import { clientForStudy } from './enroll-site';
import type { SiteKeyVault } from './site-key-vault';

export type SiteModelsOptions = {
  /** The site's model cache (sitePaths().models); models go to `<modelsRoot>/studies/<studyId>/`. */
  modelsRoot: string;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
};

/** Written last into an installed folder: which study's pins it holds. */
export const SITE_MODELS_MARKER = 'fgl-site-models.json';

/** The installed site models of a study: `encoder/`, `clip/`, `captioner/` (a models folder a site can use). */
export function siteModelsDir(modelsRoot: string, studyId: string): string {
  return join(modelsRoot, 'studies', studyId);
}

const HINT_TAMPERED =
  'Nothing was installed. Fetch again (a damaged transfer is then replaced); if it is refused again, tell the study coordinator: the server may hold other bytes than the study names.';

/** The study pins this role with a digest a site can check, else a clear refusal. */
function pinnedDigest(pin: SiteModelPin): string {
  if (pin.sha256) return pin.sha256;
  throw Object.assign(new Error(`The study pins no digest for its ${pin.role} model ${pin.id}: this site cannot verify it.`), {
    code: 'site_model_unpinned',
    hint: 'Ask the study coordinator to name the model with its sha256 (fgl study init records it), or copy a model you trust into Settings → models folder.',
  });
}

/** Whether `dir` already holds exactly the pinned model (every file hashed; big files' hashes memoized). */
async function holdsPinned(dir: string, role: SiteModelRole, sha256: string): Promise<{ files: number; bytes: number } | null> {
  if (!existsSync(dir)) return null;
  const d = await describeSiteModel(dir, role).catch(() => null);
  return d && d.sha256 === sha256 ? { files: d.files.length, bytes: d.files.reduce((s, f) => s + f.bytes, 0) } : null;
}

/** A copied or fetched file is exactly its listed bytes, else it is deleted and the install refused. */
async function checkFile(file: string, expected: ModelFile, what: string): Promise<void> {
  const h = await hashFile(file);
  if (h.bytes === expected.bytes && h.sha256 === expected.sha256) return;
  await rm(file, { force: true });
  throw new ModelVerificationError(
    'file_hash',
    `${what} does not match the study's digest (sha256 ${h.sha256.slice(0, 12)}…, ${h.bytes} bytes; expected ${expected.sha256.slice(0, 12)}…, ${expected.bytes} bytes); it was deleted`,
    HINT_TAMPERED,
  );
}

/**
 * Moves verified role folders from `staging` into `dest` (one rename each, the previous copy
 * set aside first and removed after), then writes the marker. A model in use is never half
 * replaced: each role folder is either the old or the new one.
 */
async function install(dest: string, staging: string, roles: SiteModelRole[], study: StudyManifest): Promise<void> {
  await mkdir(dest, { recursive: true });
  for (const role of roles) {
    const final = join(dest, role);
    const old = join(dest, `.${role}.old`);
    await rm(old, { recursive: true, force: true });
    if (existsSync(final)) await rename(final, old);
    await rename(join(staging, role), final);
    await rm(old, { recursive: true, force: true });
  }
  await rm(staging, { recursive: true, force: true });
  const marker = join(dest, SITE_MODELS_MARKER);
  await writeFile(`${marker}.tmp`, JSON.stringify({ studyId: study.id, models: siteModelPins(study) }, null, 2) + '\n');
  await rename(`${marker}.tmp`, marker);
}

type Planned = { pin: SiteModelPin; sha256: string; already: { files: number; bytes: number } | null };

/** What fetch and import report: each pinned model, installed now (from `installed`) or already there. */
function installSummary(
  study: StudyManifest,
  dest: string,
  planned: readonly Planned[],
  installed: readonly { role: SiteModelPin['role']; files: readonly { bytes: number }[] }[],
  source: 'fetched' | 'imported',
  bytes: number,
): SiteModelsInstall {
  return {
    studyId: study.id,
    dir: dest,
    models: planned.map((p) => {
      const done = installed.find((x) => x.role === p.pin.role);
      return {
        role: p.pin.role,
        id: p.pin.id,
        sha256: p.sha256,
        files: done ? done.files.length : p.already!.files,
        bytes: done ? done.files.reduce((a, f) => a + f.bytes, 0) : p.already!.bytes,
        source: done ? source : ('already' as const),
      };
    }),
    bytes,
  };
}

async function plan(study: StudyManifest, dest: string): Promise<Planned[]> {
  const out: Planned[] = [];
  for (const pin of siteModelPins(study)) {
    const sha256 = pinnedDigest(pin);
    out.push({ pin, sha256, already: await holdsPinned(join(dest, pin.role), pin.role, sha256) });
  }
  return out;
}

/**
 * `fgl site models fetch` / the app's "Get models": the models the study pins for sites, from the
 * study server this site enrolled with (the one host a hospital firewall usually lets it reach).
 * The server's file list must add up to the study's digest before anything is fetched; each file
 * resumes from a partial copy with Range (a dropped connection, Ctrl-C, a restart), is capped at
 * its listed size and checked by sha256 when it arrives; only when every model checks out are
 * they moved into `<modelsRoot>/studies/<studyId>/`. A model already installed is kept.
 */
export async function fetchSiteModels(
  ledger: Ledger,
  studyId: string,
  opts: SiteModelsOptions & { vault?: SiteKeyVault },
): Promise<SiteModelsInstall> {
  const { client } = clientForStudy(ledger, studyId, opts.vault);
  const study = await client.getStudy(studyId, opts.signal);
  const dest = siteModelsDir(opts.modelsRoot, study.id);
  const planned = await plan(study, dest);
  const todo = planned.filter((p) => !p.already);
  const list = todo.length > 0 ? await client.listSiteModels(study.id, opts.signal) : null;
  const entries = todo.map((p) => {
    const entry = list!.models.find((m) => m.role === p.pin.role);
    if (!entry) {
      const why = list!.unavailable.find((u) => u.role === p.pin.role)?.reason ?? 'it does not list it';
      throw Object.assign(new Error(`The study server cannot provide the study's ${p.pin.role} model ${p.pin.id}: ${why}.`), {
        code: 'site_models_unavailable',
        hint: `Ask the study coordinator to start the server with the study's models (fgl server start --models DIR), or import them from a folder or USB stick: fgl site models import --study ${study.id} DIR.`,
      });
    }
    // The list is only trusted as far as it adds up to the study's own digest.
    if (digestOfHashes(entry.files) !== p.sha256)
      throw new ModelVerificationError(
        'manifest',
        `the server's file list for the ${p.pin.role} model does not add up to the study's digest ${p.sha256.slice(0, 12)}…; nothing was fetched`,
        HINT_TAMPERED,
      );
    return { ...p, entry };
  });

  const staging = join(opts.modelsRoot, 'studies', `.${study.id}.partial`);
  // What is still to come: partial files from an earlier attempt count as already here.
  let remaining = 0;
  for (const { pin, entry } of entries)
    for (const f of entry.files) {
      const have = await stat(join(staging, pin.role, ...f.path.split('/'))).then((s) => s.size, () => 0);
      remaining += have <= f.bytes ? f.bytes - have : f.bytes;
    }
  const meter = createProgressMeter('download', remaining, opts.onProgress);
  for (const { pin, entry } of entries)
    for (const f of entry.files) {
      const target = join(staging, pin.role, ...f.path.split('/'));
      await client.downloadSiteModelFile(study.id, pin.role, f.path, target, f.bytes, meter, opts.signal);
      await checkFile(target, f, `${pin.role}/${f.path} from ${client.serverUrl}`);
    }
  if (entries.length > 0)
    await install(dest, staging, entries.map((e) => e.pin.role), study);
  return installSummary(study, dest, planned, entries.map((e) => ({ role: e.pin.role, files: e.entry.files })), 'fetched', meter.done);
}

/**
 * `fgl site models import DIR` / the app's "Import from a folder": the same models from a folder
 * or USB bundle (a models folder: encoder/ or generator/, clip/, captioner/ — what `fetch`
 * installs, or the coordinator's --models folder). Each model's digest is checked against the
 * study's before anything is copied, and every copy is hashed again before it is installed.
 */
export async function importSiteModels(study: StudyManifest, srcDir: string, opts: SiteModelsOptions): Promise<SiteModelsInstall> {
  if (!existsSync(srcDir))
    throw Object.assign(new Error(`${srcDir} does not exist.`), { code: 'not_found', hint: 'Give the folder holding encoder/ (or generator/), clip/ and captioner/, e.g. the USB stick from the study coordinator.' });
  const dest = siteModelsDir(opts.modelsRoot, study.id);
  const planned = await plan(study, dest);
  const dirs = await siteModelDirs(srcDir);
  const sources: { pin: SiteModelPin; dir: string; files: ModelFile[] }[] = [];
  for (const p of planned.filter((x) => !x.already)) {
    const dir = dirs[p.pin.role];
    if (!dir || !existsSync(dir))
      throw Object.assign(new Error(`${srcDir} has no ${p.pin.role} model (the study needs ${p.pin.id}).`), {
        code: 'site_models_incomplete',
        hint: `The folder needs ${p.pin.role === 'encoder' ? 'encoder/ (text_encoder/ + tokenizer/) or generator/' : `${p.pin.role}/`}; ask the study coordinator for the complete bundle, or fetch the models from the study server.`,
      });
    const d = await describeSiteModel(dir, p.pin.role);
    if (d.sha256 !== p.sha256)
      throw new ModelVerificationError(
        'file_hash',
        `the ${p.pin.role} model in ${dir} (sha256 ${d.sha256.slice(0, 12)}…) is not the study's ${p.pin.id} (sha256 ${p.sha256.slice(0, 12)}…); nothing was installed`,
        'Use the bundle made for this study (same model id and revision), or fetch the models from the study server.',
      );
    sources.push({ pin: p.pin, dir, files: d.files });
  }
  const staging = join(opts.modelsRoot, 'studies', `.${study.id}.import`);
  await rm(staging, { recursive: true, force: true });
  const meter = createProgressMeter('copy', sources.reduce((s, x) => s + x.files.reduce((a, f) => a + f.bytes, 0), 0), opts.onProgress);
  try {
    for (const s of sources)
      for (const f of s.files) {
        opts.signal?.throwIfAborted();
        const target = join(staging, s.pin.role, ...f.path.split('/'));
        await mkdir(dirname(target), { recursive: true });
        await copyFile(join(s.dir, ...f.path.split('/')), target);
        await checkFile(target, f, `the copy of ${s.pin.role}/${f.path}`);
        meter.advance(f.bytes);
      }
    if (sources.length > 0) await install(dest, staging, sources.map((s) => s.pin.role), study);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return installSummary(study, dest, planned, sources.map((x) => ({ role: x.pin.role, files: x.files })), 'imported', meter.done);
}

/**
 * `fgl site models fetch --from-hub`: the same models from the Hugging Face hub (or a mirror),
 * only with the operator's explicit consent (`FGL_ALLOW_NETWORK=1`, passed as `allowNetwork`).
 * CLIP and the captioner are fetched by the study's hub ids (resumable, into the hub cache
 * `cacheDir`); the encoder comes with the generator repository the study names it by. Then they
 * are installed exactly as an imported folder: every model checked against the study's digest.
 */
export async function fetchSiteModelsFromHub(
  study: StudyManifest,
  opts: SiteModelsOptions & { allowNetwork: boolean; cacheDir: string; remoteHost?: string },
): Promise<SiteModelsInstall> {
  if (!opts.allowNetwork)
    throw Object.assign(new Error('Downloading models from the Hugging Face hub is not allowed on this computer.'), {
      code: 'network_not_allowed',
      hint: 'Get them from the study server (fgl site models fetch without --from-hub) or a folder (fgl site models import), or allow the hub explicitly with FGL_ALLOW_NETWORK=1.',
    });
  const store = new ModelStore({ cacheDir: opts.cacheDir, allowNetwork: true, ...(opts.remoteHost ? { remoteHost: opts.remoteHost } : {}) });
  const dest = siteModelsDir(opts.modelsRoot, study.id);
  // A bundle of links to the hub cache, laid out as a models folder, imported (and checked) as any folder.
  await mkdir(join(opts.modelsRoot, 'studies'), { recursive: true });
  const bundle = await mkdtemp(join(opts.modelsRoot, 'studies', `.${study.id}.hub-`));
  try {
    for (const p of await plan(study, dest)) {
      if (p.already) continue;
      opts.signal?.throwIfAborted();
      const ref = { id: p.pin.id, revision: p.pin.revision };
      const resolved =
        p.pin.role === 'encoder'
          ? await store.resolve(ref, 'generator', { ...(opts.signal ? { signal: opts.signal } : {}) })
          : await store.resolve({ ...ref, sha256: p.sha256 }, p.pin.role, { ...(opts.signal ? { signal: opts.signal } : {}) });
      await symlink(resolved.dir, join(bundle, p.pin.role === 'encoder' ? 'generator' : p.pin.role), 'dir');
    }
    return await importSiteModels(study, bundle, opts);
  } finally {
    await rm(bundle, { recursive: true, force: true });
  }
}
