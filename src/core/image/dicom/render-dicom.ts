import type * as dicomParser from 'dicom-parser';
import { ImageDecodeError } from '../image-decode-error';
import type { StoredFrame } from './read-dicom';

/**
 * How a stored DICOM frame becomes 8-bit RGB for the encoders (CLIP, captioner, thumbnails):
 *
 * - greyscale: Modality LUT (Rescale Slope/Intercept), then the VOI: the first Window
 *   Center/Width (VOI LUT Function LINEAR, LINEAR_EXACT or SIGMOID, PS3.3 C.11.2.1.2) or else the
 *   first VOI LUT Sequence item; without either, the frame's own minimum–maximum range (every
 *   modality: it keeps all the detail a window would have to guess). MONOCHROME1 is inverted.
 * - colour: RGB as is; YBR_FULL / YBR_FULL_422 converted to RGB (PS3.3 C.7.6.3.1.2);
 *   PALETTE COLOR through its lookup tables; more than 8 bits scaled down to 8.
 */
export function renderFrame(f: StoredFrame, ds: dicomParser.DataSet, file?: string): Uint8Array {
  const pixels = f.width * f.height;
  const rgb = new Uint8Array(pixels * 3);
  if (f.samples === 1 && f.photometric.startsWith('MONOCHROME')) {
    const grey = displayGrey(f, ds);
    for (let p = 0; p < pixels; p++) rgb.fill(grey[p]!, p * 3, p * 3 + 3);
    return rgb;
  }
  if (f.samples === 1 && f.photometric === 'PALETTE COLOR') return palette(f, ds, file);
  if (f.samples !== 3)
    throw new ImageDecodeError(
      'unsupported',
      `DICOM photometric interpretation ${f.photometric} with ${f.samples} sample(s), which FGL does not read`,
      'Export it as MONOCHROME2 or RGB and scan again',
      file,
    );
  const max = 2 ** f.bitsStored - 1;
  const to8 = (v: number) => (f.bitsStored <= 8 ? v : Math.round((v / max) * 255));
  const ybr = f.photometric === 'YBR_FULL' || f.photometric === 'YBR_FULL_422';
  if (!ybr && f.photometric !== 'RGB')
    throw new ImageDecodeError(
      'unsupported',
      `DICOM photometric interpretation ${f.photometric}, which FGL does not read`,
      'Export it as RGB and scan again',
      file,
    );
  for (let p = 0; p < pixels; p++) {
    const a = to8(f.values[p * 3]!);
    const b = to8(f.values[p * 3 + 1]!);
    const c = to8(f.values[p * 3 + 2]!);
    if (ybr) {
      rgb[p * 3] = clamp8(a + 1.402 * (c - 128));
      rgb[p * 3 + 1] = clamp8(a - 0.344136 * (b - 128) - 0.714136 * (c - 128));
      rgb[p * 3 + 2] = clamp8(a + 1.772 * (b - 128));
    } else rgb.set([a, b, c], p * 3);
  }
  return rgb;
}

const clamp8 = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

function numbers(ds: dicomParser.DataSet, tag: string): number[] {
  const n = ds.numStringValues(tag) ?? 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = ds.floatString(tag, i);
    if (v !== undefined && Number.isFinite(v)) out.push(v);
  }
  return out;
}

/** Greyscale after the Modality LUT, the VOI and MONOCHROME1 inversion, 0–255 per pixel. */
export function displayGrey(f: StoredFrame, ds: dicomParser.DataSet): Uint8Array {
  const slope = numbers(ds, 'x00281053')[0] ?? 1;
  const intercept = numbers(ds, 'x00281052')[0] ?? 0;
  const n = f.width * f.height;
  const out = new Uint8Array(n);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = f.values[i]! * slope + intercept;

  const centre = numbers(ds, 'x00281050')[0];
  const width = numbers(ds, 'x00281051')[0];
  const fn = (ds.string('x00281056') ?? 'LINEAR').toUpperCase();
  const lut = ds.elements.x00283010?.items?.[0]?.dataSet;
  if (centre !== undefined && width !== undefined && width > 0 && (fn !== 'LINEAR' || width >= 1)) {
    if (fn === 'SIGMOID') {
      for (let i = 0; i < n; i++)
        out[i] = clamp8(255 / (1 + Math.exp((-4 * (v[i]! - centre)) / width)));
    } else {
      // PS3.3 C.11.2.1.2.1 (LINEAR) and C.11.2.1.3.2 (LINEAR_EXACT), output range 0–255.
      const c = fn === 'LINEAR_EXACT' ? centre : centre - 0.5;
      const w = fn === 'LINEAR_EXACT' ? width : width - 1;
      for (let i = 0; i < n; i++) {
        const x = v[i]!;
        out[i] = x <= c - w / 2 ? 0 : x > c + w / 2 ? 255 : clamp8(((x - c) / w + 0.5) * 255);
      }
    }
  } else if (lut && lut.elements.x00283006) {
    const desc = [0, 1, 2].map((i) => lut.uint16('x00283002', i) ?? 0);
    const entries = desc[0] || 65536;
    const first = (lut.elements.x00283002?.vr === 'SS' ? lut.int16('x00283002', 1) : desc[1]) ?? 0;
    const bits = desc[2] || 16;
    const data = lut.elements.x00283006;
    const lutBytes = lut.byteArray;
    const read = (k: number) =>
      bits > 8 || data.length >= entries * 2
        ? lut.byteArrayParser.readUint16(lutBytes, data.dataOffset + 2 * k)
        : lutBytes[data.dataOffset + k]!;
    const top = 2 ** bits - 1;
    for (let i = 0; i < n; i++) {
      const k = Math.min(entries - 1, Math.max(0, Math.round(v[i]!) - first));
      out[i] = clamp8((read(k) / top) * 255);
    }
  } else {
    // No VOI: the frame's own range.
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      if (v[i]! < lo) lo = v[i]!;
      if (v[i]! > hi) hi = v[i]!;
    }
    const range = hi - lo;
    for (let i = 0; i < n; i++) out[i] = range > 0 ? clamp8(((v[i]! - lo) / range) * 255) : 0;
  }
  if (f.photometric === 'MONOCHROME1') for (let i = 0; i < n; i++) out[i] = 255 - out[i]!;
  return out;
}

function palette(f: StoredFrame, ds: dicomParser.DataSet, file?: string): Uint8Array {
  const channels = ['1201', '1202', '1203'].map((t, c) => {
    const descTag = `x002811${['01', '02', '03'][c]}`;
    const entries = ds.uint16(descTag, 0) || 65536;
    const first = ds.uint16(descTag, 1) ?? 0;
    const bits = ds.uint16(descTag, 2) ?? 16;
    const el = ds.elements[`x0028${t}`];
    if (!el)
      throw new ImageDecodeError(
        'unsupported',
        'DICOM PALETTE COLOR image without its lookup table data (segmented palettes are not read)',
        'Export it as RGB and scan again',
        file,
      );
    return { entries, first, bits, el };
  });
  const pixels = f.width * f.height;
  const rgb = new Uint8Array(pixels * 3);
  for (let c = 0; c < 3; c++) {
    const { entries, first, bits, el } = channels[c]!;
    const wide = bits > 8 || el.length >= entries * 2;
    for (let p = 0; p < pixels; p++) {
      const k = Math.min(entries - 1, Math.max(0, f.values[p]! - first));
      const raw = wide
        ? ds.byteArrayParser.readUint16(ds.byteArray, el.dataOffset + 2 * k)
        : ds.byteArray[el.dataOffset + k]!;
      rgb[p * 3 + c] = bits > 8 ? raw >> 8 : raw & 0xff;
    }
  }
  return rgb;
}
