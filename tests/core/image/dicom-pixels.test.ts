import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeStoredFrame, parseDicom } from '../../../src/core/image/dicom/read-dicom';
import { renderFrame } from '../../../src/core/image/dicom/render-dicom';
import { pydicomTestFiles } from '../../helpers/pydicom-test-files';

// Written by tools/dicom-reference/make-reference.py from pydicom's own decoding.
type Ref = {
  frame: number;
  frames: number;
  photometric: string;
  stored: { shape: number[]; sha256: string; min: number; max: number; mean: number };
  display?: { mean: number; grid: (number | number[])[] };
};
const reference = JSON.parse(
  readFileSync(path.join(__dirname, '../../fixtures/dicom/pydicom-reference.json'), 'utf8'),
) as { grid: number; files: Record<string, Ref> };

/** Lossy transfer syntaxes: two decoders may round differently, within a few levels. */
const LOSSY = new Set([
  '1.2.840.10008.1.2.4.50',
  '1.2.840.10008.1.2.4.51',
  '1.2.840.10008.1.2.4.91',
]);

async function decode(name: string) {
  const bytes = readFileSync(path.join(pydicomTestFiles(), name));
  const parsed = parseDicom(bytes, name);
  // The pixels of every reference file are checked, also those a scan leaves out (RT Dose, SEG).
  const frame = await decodeStoredFrame(parsed, { maxPixels: 1e8, allowNonPicture: true });
  return { parsed, frame };
}

function sha256Int64(values: ArrayLike<number>): string {
  const b = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) b[i] = BigInt(values[i]!);
  return createHash('sha256').update(new Uint8Array(b.buffer)).digest('hex');
}

function gridOf(rgb: Uint8Array, w: number, h: number, grey: boolean, n: number) {
  const ys = Array.from({ length: n }, (_, i) =>
    Math.min(h - 1, Math.floor(((2 * i + 1) * h) / (2 * n))),
  );
  const xs = Array.from({ length: n }, (_, i) =>
    Math.min(w - 1, Math.floor(((2 * i + 1) * w) / (2 * n))),
  );
  return ys.flatMap((y) =>
    xs.map((x) => {
      const p = (y * w + x) * 3;
      return grey ? rgb[p]! : [rgb[p]!, rgb[p + 1]!, rgb[p + 2]!];
    }),
  );
}

describe('DICOM pixels match pydicom', () => {
  for (const [name, ref] of Object.entries(reference.files)) {
    it(name, async () => {
      const { parsed, frame } = await decode(name);
      expect({ frame: frame.frame, frames: frame.frames }).toEqual({
        frame: ref.frame,
        frames: ref.frames,
      });
      const shape =
        frame.samples === 1
          ? [frame.height, frame.width]
          : [frame.height, frame.width, frame.samples];
      expect(shape).toEqual(ref.stored.shape);
      const lossy = LOSSY.has(parsed.syntax.uid);
      // Same colour space on both sides (pydicom keeps YBR where our codec hands back RGB).
      const sameSpace = frame.photometric === ref.photometric;
      if (!lossy && sameSpace) expect(sha256Int64(frame.values)).toBe(ref.stored.sha256);
      else if (sameSpace) {
        const mean = Array.from(frame.values).reduce((a, v) => a + v, 0) / frame.values.length;
        expect(Math.abs(mean - ref.stored.mean)).toBeLessThan(1);
      }
      if (!ref.display) return;
      const rgb = renderFrame(frame, parsed.dataSet, name);
      const grey = ref.stored.shape.length === 2;
      const ours = gridOf(rgb, frame.width, frame.height, grey, reference.grid).flat();
      const theirs = ref.display.grid.flat();
      const worst = Math.max(...ours.map((v, i) => Math.abs(v - theirs[i]!)));
      const mean = rgb.reduce((a, v) => a + v, 0) / rgb.length;
      // Within rounding for lossless data; a lossy codec may differ by a few levels per pixel.
      expect(worst).toBeLessThanOrEqual(lossy ? 8 : 1);
      expect(Math.abs(mean - ref.display.mean)).toBeLessThan(lossy ? 1.5 : 0.5);
    });
  }
});
