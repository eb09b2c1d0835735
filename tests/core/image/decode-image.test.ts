import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/core/image/decode-image';
import { ImageDecodeError } from '../../../src/core/image/image-decode-error';
import {
  bombPng,
  dicomStub,
  encodeImage,
  rgbPixels,
  truncated,
  twoFrameGif,
  writeBmp24,
} from '../../helpers/broken-images';

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ImageDecodeError) return e.reason;
    throw e;
  }
  return 'decoded';
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fgl-decode-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('decodeImage', () => {
  it('decodes every accepted format to 8-bit RGB, detecting the format by content', async () => {
    const inputs = {
      jpeg: await encodeImage('jpeg', 24, 16),
      png: await encodeImage('png', 24, 16),
      webp: await encodeImage('webp', 24, 16),
      tiff: await encodeImage('tiff', 24, 16),
      gif: await twoFrameGif(24, 16, [1, 2, 3], [4, 5, 6]),
      bmp: writeBmp24(24, 16, rgbPixels(24, 16)),
    };
    for (const [fmt, bytes] of Object.entries(inputs)) {
      const img = await decodeImage(bytes);
      expect(img.format).toBe(fmt);
      expect([img.width, img.height, img.channels, img.originalWidth, img.originalHeight]).toEqual([
        24, 16, 3, 24, 16,
      ]);
      expect(img.data.length).toBe(24 * 16 * 3);
    }
  });

  it('keeps lossless pixels exact (PNG, TIFF, BMP) and accepts a plain Uint8Array', async () => {
    const rgb = rgbPixels(24, 16, 42);
    for (const bytes of [
      await sharp(rgb, { raw: { width: 24, height: 16, channels: 3 } })
        .png()
        .toBuffer(),
      writeBmp24(24, 16, rgb),
    ]) {
      const img = await decodeImage(new Uint8Array(bytes));
      expect(Buffer.from(img.data).equals(rgb)).toBe(true);
    }
  });

  it('applies EXIF orientation', async () => {
    const jpeg = await sharp(rgbPixels(40, 20), { raw: { width: 40, height: 20, channels: 3 } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const img = await decodeImage(jpeg);
    expect([img.width, img.height, img.originalWidth, img.originalHeight]).toEqual([
      20, 40, 20, 40,
    ]);
  });

  it('takes the first frame of an animated GIF', async () => {
    const gif = await twoFrameGif(8, 8, [200, 30, 30], [30, 30, 200]);
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const img = await decodeImage(gif);
    const [r, g, b] = img.data;
    expect(r).toBeGreaterThan(150);
    expect(b).toBeLessThan(80);
    expect(g).toBeLessThan(80);
  });

  it('flattens alpha on white', async () => {
    const rgba = Buffer.from([255, 0, 0, 255, 0, 255, 0, 0]); // opaque red, fully transparent green
    const png = await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } })
      .png()
      .toBuffer();
    expect([...(await decodeImage(png)).data]).toEqual([255, 0, 0, 255, 255, 255]);
  });

  it('converts 16-bit greyscale to 8-bit RGB', async () => {
    const png16 = await sharp(new Uint16Array([0, 32768, 65535]), {
      raw: { width: 3, height: 1, channels: 1 },
    })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const img = await decodeImage(png16);
    expect(img.channels).toBe(3);
    expect([...img.data]).toEqual([0, 0, 0, 128, 128, 128, 255, 255, 255]);
  });

  it('resizes so the short side is resizeShortSide, never enlarging', async () => {
    const png = await encodeImage('png', 40, 30);
    const small = await decodeImage(png, { resizeShortSide: 15 });
    expect([small.width, small.height, small.originalWidth, small.originalHeight]).toEqual([
      20, 15, 40, 30,
    ]);
    const same = await decodeImage(png, { resizeShortSide: 100 });
    expect([same.width, same.height]).toEqual([40, 30]);
  });

  it('reports a reason for every broken input', async () => {
    expect(await reasonOf(decodeImage(new Uint8Array(0)))).toBe('empty');
    expect(await reasonOf(decodeImage(new TextEncoder().encode('not an image at all')))).toBe(
      'not_image',
    );
    expect(await reasonOf(decodeImage(dicomStub()))).toBe('unsupported');
    expect(await reasonOf(decodeImage(truncated(await encodeImage('jpeg', 64, 64))))).toBe(
      'corrupt',
    );
    expect(await reasonOf(decodeImage(truncated(await encodeImage('png', 64, 64))))).toBe(
      'corrupt',
    );
    expect(await reasonOf(decodeImage(truncated(await encodeImage('webp', 64, 64))))).toBe(
      'corrupt',
    );
    expect(await reasonOf(decodeImage(bombPng()))).toBe('too_large');
    expect(await reasonOf(decodeImage(await encodeImage('png', 40, 30), { maxPixels: 1199 }))).toBe(
      'too_large',
    );
    expect(await reasonOf(decodeImage(await encodeImage('png', 40, 30), { maxPixels: 1200 }))).toBe(
      'decoded',
    );
  });

  it('says why in words the user can act on', async () => {
    const err = await decodeImage(path.join(dir, 'nope.png')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as ImageDecodeError).reason).toBe('missing');
    expect((err as ImageDecodeError).message).toContain('nope.png');
    const bomb = (await decodeImage(bombPng()).catch((e: unknown) => e)) as ImageDecodeError;
    expect(bomb.detail).toMatch(/30000×30000.*limit.*Downscale/);
  });

  it('reads from a path, and refuses folders and FIFOs without blocking on them', async () => {
    const file = path.join(dir, 'ok.webp');
    await writeFile(file, await encodeImage('webp', 10, 10));
    expect((await decodeImage(file)).format).toBe('webp');
    expect(await reasonOf(decodeImage(dir))).toBe('not_file');
    const fifo = path.join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    expect(await reasonOf(decodeImage(fifo))).toBe('not_file');
  });

  it('rejects with an AbortError when the signal is aborted', async () => {
    const png = await encodeImage('png', 10, 10);
    const err = await decodeImage(png, {
      signal: AbortSignal.abort(new Error('user cancelled')),
    }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect((err as Error).message).toContain('user cancelled');
    const ac = new AbortController();
    const pending = decodeImage(await encodeImage('png', 400, 400), { signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });
});
