import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  lstat,
  rm,
  symlink,
  writeFile,
  chmod,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { writeDicom } from './dicom-files';

/** Deterministic RGB pixels: a gradient with a per-image tint so images differ. */
export function rgbPixels(width: number, height: number, tint = 0): Buffer {
  const b = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      b[o] = (x * 255) / Math.max(1, width - 1);
      b[o + 1] = (y * 255) / Math.max(1, height - 1);
      b[o + 2] = tint & 255;
    }
  return b;
}

type Fmt = 'jpeg' | 'png' | 'webp' | 'tiff' | 'gif';

export async function encodeImage(fmt: Fmt, width = 24, height = 16, tint = 0): Promise<Buffer> {
  return sharp(rgbPixels(width, height, tint), { raw: { width, height, channels: 3 } })
    [fmt]()
    .toBuffer();
}

/** A 2-frame animated GIF: frame 0 solid `first`, frame 1 solid `second` (RGB). */
export async function twoFrameGif(
  width: number,
  height: number,
  first: [number, number, number],
  second: [number, number, number],
): Promise<Buffer> {
  const frame = (c: [number, number, number]) => {
    const b = Buffer.alloc(width * height * 3);
    for (let i = 0; i < width * height; i++) b.set(c, i * 3);
    return b;
  };
  return sharp(Buffer.concat([frame(first), frame(second)]), {
    raw: { width, height: height * 2, channels: 3, pageHeight: height },
  })
    .gif()
    .toBuffer();
}

/**
 * A minimal uncompressed BMP written by hand (sharp cannot write BMP): 24-bit BI_RGB,
 * bottom-up rows padded to 4 bytes, from top-first RGB pixels.
 */
export function writeBmp24(
  width: number,
  height: number,
  rgb: Uint8Array,
  topDown = false,
): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const size = 54 + stride * height;
  const b = Buffer.alloc(size);
  b.write('BM', 0, 'ascii');
  b.writeUInt32LE(size, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(topDown ? -height : height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  b.writeUInt32LE(0, 30);
  b.writeUInt32LE(stride * height, 34);
  for (let y = 0; y < height; y++) {
    const row = 54 + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      b[row + x * 3] = rgb[s + 2]!;
      b[row + x * 3 + 1] = rgb[s + 1]!;
      b[row + x * 3 + 2] = rgb[s]!;
    }
  }
  return b;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A real, valid decompression bomb: a 1-bit greyscale PNG of `side`×`side` all-black pixels.
 * 30000² = 900 Mpx (≈ 2.7 GB as RGB) in ≈ 110 KB of file.
 */
export function bombPng(side = 30000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const rowBytes = 1 + Math.ceil(side / 8); // filter byte + packed bits
  const idat = deflateSync(Buffer.alloc(rowBytes * side), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The first 60% of a file: cut inside the compressed pixel data. */
export function truncated(b: Buffer): Buffer {
  return b.subarray(0, Math.floor(b.length * 0.6));
}

/** 128-byte preamble + "DICM": how every DICOM Part 10 file starts. */
/** A DICOM image in a transfer syntax FGL recognises but does not decode (MPEG2 video). */
export function dicomStub(): Buffer {
  return writeDicom({
    transferSyntax: '1.2.840.10008.1.2.4.100',
    elements: [
      [0x00280010, 'US', 2],
      [0x00280011, 'US', 2],
      [0x00280100, 'US', 8],
    ],
    pixelData: { fragments: [Buffer.alloc(16)] },
  });
}

function seededBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    b[i] = s >>> 24;
  }
  // Make sure the "random" bytes cannot start with a magic number by chance.
  b[0] = 0x00;
  return b;
}

export const UNICODE_CLASS = 'ñandú 🐦';
export const TIFF_NAME = 'café photo ü.tiff';

export type BrokenDataset = {
  /** Temp folder holding `dataset/` and `outside/`; remove with cleanup(). */
  base: string;
  /** The ImageFolder dataset to scan. */
  root: string;
  /** Usable images expected per class. */
  expectedCounts: Record<string, number>;
  /** Every skipped entry expected, path → reason (folders end in '/'). */
  expectedSkips: Record<string, string>;
  /**
   * Two folder links to the same folder outside the dataset: the one walked second is skipped as
   * duplicate_folder, the other is scanned; which one depends on directory order.
   */
  duplicateLinks: [string, string];
  /** Usable images whose name belongs to another format (or none). */
  expectedMismatch: string[];
  cleanup(): Promise<void>;
};

/**
 * Builds a dataset with good images in three classes (JPEG, PNG, WebP, TIFF, BMP, 2-frame GIF)
 * and one of every broken case the scan must report. Linux/macOS only (FIFO, symlinks).
 */
export async function buildBrokenDataset(): Promise<BrokenDataset> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'fgl-broken-'));
  const root = path.join(base, 'dataset');
  const outside = path.join(base, 'outside');
  const cat = path.join(root, 'cat');
  const dog = path.join(root, 'dog');
  const uni = path.join(root, UNICODE_CLASS);
  for (const d of [
    cat,
    path.join(cat, 'nested'),
    dog,
    uni,
    path.join(uni, '.git'),
    path.join(root, 'empty-class'),
    path.join(outside, 'extra'),
  ])
    await mkdir(d, { recursive: true });

  const jpeg = await encodeImage('jpeg', 40, 30, 1);
  const png = await encodeImage('png', 40, 30, 2);
  // EXIF orientation 6 (rotate 90°): stored 40×20, shown 20×40.
  const rotatedJpeg = await sharp(rgbPixels(40, 20, 3), {
    raw: { width: 40, height: 20, channels: 3 },
  })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toBuffer();

  const files: [string, Buffer | string][] = [
    // cat: 9 usable
    ['cat/a.jpg', rotatedJpeg],
    [
      'cat/b.png',
      await sharp(rgbPixels(24, 16, 4), { raw: { width: 24, height: 16, channels: 3 } })
        .ensureAlpha(0.5)
        .png()
        .toBuffer(),
    ],
    ['cat/c.webp', await encodeImage('webp', 24, 16, 5)],
    [`cat/${TIFF_NAME}`, await encodeImage('tiff', 24, 16, 6)],
    ['cat/e.bmp', writeBmp24(13, 7, rgbPixels(13, 7, 7))],
    ['cat/f.gif', await twoFrameGif(12, 8, [200, 30, 30], [30, 30, 200])],
    ['cat/png-named.jpg', await encodeImage('png', 24, 16, 8)],
    ['cat/noext', await encodeImage('png', 24, 16, 9)],
    ['cat/nested/deeper.png', await encodeImage('png', 24, 16, 10)],
    ['cat/corrupt-trunc.jpg', truncated(jpeg)],
    ['cat/empty.jpg', Buffer.alloc(0)],
    ['cat/.DS_Store', seededBytes(64, 1)],
    ['cat/._a.jpg', seededBytes(64, 2)],
    // dog: 3 usable + a file symlink to cat/a.jpg
    ['dog/1.png', png],
    ['dog/2.jpg', jpeg],
    ['dog/3.webp', await encodeImage('webp', 24, 16, 11)],
    ['dog/trunc.png', truncated(await encodeImage('png', 64, 64, 12))],
    ['dog/random.jpg', seededBytes(4096, 3)],
    ['dog/notes.txt', 'Not an image.\nJust some notes about the dogs.\n'],
    ['dog/bomb.png', bombPng()],
    ['dog/scan.dcm', dicomStub()],
    // unicode class with spaces: 2 usable
    [`${UNICODE_CLASS}/photo 1.png`, await encodeImage('png', 24, 16, 13)],
    [`${UNICODE_CLASS}/photo 2.jpg`, await encodeImage('jpeg', 24, 16, 14)],
    [`${UNICODE_CLASS}/.git/HEAD`, 'ref: refs/heads/main\n'],
    // root: no label
    ['readme.txt', 'Chest X-rays, one folder per finding.\n'],
    ['root.png', await encodeImage('png', 24, 16, 15)],
    ['Thumbs.db', seededBytes(32, 4)],
  ];
  for (const [rel, content] of files) await writeFile(path.join(root, rel), content);
  await writeFile(path.join(outside, 'extra', 'x.txt'), 'outside the dataset\n');

  await symlink('../cat/a.jpg', path.join(dog, 'link-to-cat-a.jpg'));
  await symlink('does-not-exist.jpg', path.join(dog, 'dangling.jpg'));
  await symlink('..', path.join(dog, 'loop')); // a folder link to an ancestor (the dataset root)
  await symlink('../../outside/extra', path.join(cat, 'extra1'));
  await symlink('../../outside/extra', path.join(dog, 'extra2'));
  execFileSync('mkfifo', [path.join(dog, 'fifo')]);

  return {
    base,
    root,
    expectedCounts: { cat: 9, dog: 4, [UNICODE_CLASS]: 2, 'empty-class': 0 },
    expectedSkips: {
      'cat/corrupt-trunc.jpg': 'corrupt',
      'cat/empty.jpg': 'empty',
      'cat/.DS_Store': 'hidden',
      'cat/._a.jpg': 'hidden',
      'dog/trunc.png': 'corrupt',
      'dog/random.jpg': 'not_image',
      'dog/notes.txt': 'not_image',
      'dog/bomb.png': 'too_large',
      'dog/scan.dcm': 'unsupported',
      'dog/dangling.jpg': 'broken_link',
      'dog/loop/': 'symlink_loop',
      'dog/fifo': 'not_file',
      [`${UNICODE_CLASS}/.git/`]: 'hidden',
      'readme.txt': 'no_label',
      'root.png': 'no_label',
      'Thumbs.db': 'hidden',
    },
    duplicateLinks: ['cat/extra1', 'dog/extra2'],
    expectedMismatch: ['cat/png-named.jpg'],
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}

/**
 * A dataset with a file and a class folder that have no permissions (mode 000). Root ignores
 * permissions, so only a non-root process sees EACCES here; make `base` traversable (0755) so a
 * process dropped to another uid can reach it.
 */
export async function buildPermissionDataset(): Promise<{
  base: string;
  root: string;
  cleanup(): Promise<void>;
}> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'fgl-perm-'));
  const root = path.join(base, 'dataset');
  await mkdir(path.join(root, 'ok'), { recursive: true });
  await mkdir(path.join(root, 'locked'), { recursive: true });
  await writeFile(path.join(root, 'ok', 'good.png'), await encodeImage('png', 16, 16, 1));
  await writeFile(path.join(root, 'ok', 'secret.png'), await encodeImage('png', 16, 16, 2));
  await writeFile(
    path.join(root, 'locked', 'hidden-from-us.png'),
    await encodeImage('png', 16, 16, 3),
  );
  await chmod(path.join(root, 'ok', 'secret.png'), 0o000);
  await chmod(path.join(root, 'locked'), 0o000);
  await chmod(base, 0o755);
  return {
    base,
    root,
    cleanup: async () => {
      await chmod(path.join(root, 'locked'), 0o755).catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    },
  };
}

/**
 * A fingerprint of a folder tree that changes if anything in it is written, created, removed,
 * renamed, re-permissioned or touched: per entry its type, mode, size, mtime, ctime and content
 * hash (link target for symlinks; FIFOs are not opened). Links are not followed. atime is
 * left out on purpose: reading a file may update it, and reading is allowed.
 */
export async function treeFingerprint(dir: string): Promise<string> {
  const lines: string[] = [];
  async function visit(abs: string, rel: string): Promise<void> {
    const st = await lstat(abs);
    const meta = `${rel}\t${st.mode.toString(8)}\t${st.size}\t${st.mtimeMs}\t${st.ctimeMs}`;
    if (st.isSymbolicLink()) lines.push(`L ${meta}\t${await readlink(abs)}`);
    else if (st.isFile())
      lines.push(
        `F ${meta}\t${createHash('sha256')
          .update(await readFile(abs))
          .digest('hex')}`,
      );
    else if (st.isDirectory()) {
      lines.push(`D ${meta}`);
      for (const name of (await readdir(abs)).sort())
        await visit(path.join(abs, name), rel ? `${rel}/${name}` : name);
    } else lines.push(`O ${meta}`);
  }
  await visit(dir, '');
  return lines.join('\n');
}
