/**
 * Near-duplicate images by their pixels: the same picture re-encoded, resampled, shifted, cropped a
 * little, brightened or blurred, which a content hash cannot see. Used to count each picture once
 * for k and DP (src/site/privacy/privacy-units.ts).
 *
 * Each image gets a signature from its greyscale pixels (decoded to a short side of 96):
 * - `chroma`: mean r/(r+g+b), g/(r+g+b): unchanged by brightness, JPEG and blur;
 * - a coarse 12×12 thumbnail of the central 90 % and 36 thumbnails of crops of the image at
 *   scales 0.81–0.9 and offsets ±3 %, each z-normalised (so brightness and contrast drop out);
 * - the greyscale pixels, for a fine 32×32 check of the few pairs the coarse one lets through.
 * Two images are near-duplicates when their chroma is within CHROMA_MAX, the best normalised
 * cross-correlation of one's centre against the other's crops is ≥ COARSE_MIN, and around that
 * alignment the fine 32×32 correlation is ≥ FINE_MIN: the fine level separates distinct images
 * that look alike at a glance (two X-rays, two drawn circles) by their detail.
 *
 * Thresholds are calibrated on real photographs (tests/fixtures/real-photos) and the generated
 * sample shapes in tests/site/privacy/near-duplicates.test.ts; docs/threat-model.md lists them.
 */
import { decodeImage } from '../../core/image/decode-image';

export const COARSE_SIDE = 12;
export const FINE_SIDE = 32;
export const CHROMA_MAX = 0.02;
export const COARSE_MIN = 0.9;
export const FINE_MIN = 0.95;
const DECODE_SHORT_SIDE = 96;
const CENTRE = 0.9;
const CROP_SCALES = [0.9, 0.87, 0.84, 0.81];
const CROP_OFFSETS = [-0.03, 0, 0.03];
/** The fine search around the coarse alignment runs only when the first fine score is within this of FINE_MIN. */
const REFINE_MARGIN = 0.15;

/** A greyscale image, 8-bit, row-major. */
export type GreyImage = { data: Uint8Array; width: number; height: number };
/** A rectangle of the source image, in fractions of its width / height. */
type Crop = { scale: number; ox: number; oy: number };

export type ImageSignature = {
  chroma: [number, number];
  centre: Float32Array;
  /** Float32: 36 × 144 values per image, the bulk of a signature's memory. */
  crops: { crop: Crop; thumb: Float32Array }[];
  grey: GreyImage;
  /** The fine centre thumbnail, made the first time a pair needs it. */
  fineCentre?: Float32Array;
};

/** Rec. 601 luma of interleaved RGB. */
export function toGrey(rgb: Uint8Array, width: number, height: number): GreyImage {
  const data = new Uint8Array(width * height);
  for (let i = 0, p = 0; i < data.length; i++, p += 3)
    data[i] = Math.round(0.299 * rgb[p]! + 0.587 * rgb[p + 1]! + 0.114 * rgb[p + 2]!);
  return { data, width, height };
}

/** Box-average the crop of `img` into a side × side grid, then z-normalise it to unit L2 norm. */
export function thumbnail(img: GreyImage, side: number, c: Crop): Float32Array {
  const { data, width, height } = img;
  const rx = width * ((1 - c.scale) / 2 + c.ox);
  const ry = height * ((1 - c.scale) / 2 + c.oy);
  const rw = width * c.scale;
  const rh = height * c.scale;
  const out = new Float32Array(side * side);
  for (let ty = 0; ty < side; ty++) {
    const y0 = Math.max(0, ry + (ty * rh) / side);
    const y1 = Math.min(height, ry + ((ty + 1) * rh) / side);
    for (let tx = 0; tx < side; tx++) {
      const x0 = Math.max(0, rx + (tx * rw) / side);
      const x1 = Math.min(width, rx + ((tx + 1) * rw) / side);
      let sum = 0;
      let area = 0;
      for (let y = Math.floor(y0); y < Math.ceil(y1); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        for (let x = Math.floor(x0); x < Math.ceil(x1); x++) {
          const a = wy * (Math.min(x + 1, x1) - Math.max(x, x0));
          sum += a * data[y * width + x]!;
          area += a;
        }
      }
      out[ty * side + tx] = area > 0 ? sum / area : 0;
    }
  }
  let mean = 0;
  for (const v of out) mean += v;
  mean /= out.length;
  let norm = 0;
  for (let i = 0; i < out.length; i++) norm += (out[i]! - mean) ** 2;
  norm = Math.sqrt(norm);
  // A flat image has no structure to correlate: all zeros, so it matches nothing but by chroma… and never passes NCC.
  for (let i = 0; i < out.length; i++) out[i] = norm > 0 ? (out[i]! - mean) / norm : 0;
  return out;
}

const dot = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** The signature of decoded RGB pixels. */
export function imageSignature(rgb: Uint8Array, width: number, height: number): ImageSignature {
  let r = 0;
  let g = 0;
  let b = 0;
  for (let p = 0; p < rgb.length; p += 3) {
    r += rgb[p]!;
    g += rgb[p + 1]!;
    b += rgb[p + 2]!;
  }
  const t = r + g + b || 1;
  const grey = toGrey(rgb, width, height);
  const crops: ImageSignature['crops'] = [];
  for (const scale of CROP_SCALES)
    for (const ox of CROP_OFFSETS)
      for (const oy of CROP_OFFSETS) {
        const crop = { scale, ox, oy };
        crops.push({ crop, thumb: thumbnail(grey, COARSE_SIDE, crop) });
      }
  return {
    chroma: [r / t, g / t],
    centre: thumbnail(grey, COARSE_SIDE, { scale: CENTRE, ox: 0, oy: 0 }),
    crops,
    grey,
  };
}

/** The signature of an image file (any format decodeImage reads). */
export async function imageSignatureOfFile(
  file: string,
  signal?: AbortSignal,
): Promise<ImageSignature> {
  const d = await decodeImage(file, {
    resizeShortSide: DECODE_SHORT_SIDE,
    ...(signal ? { signal } : {}),
  });
  return imageSignature(d.data, d.width, d.height);
}

export type Similarity = { chroma: number; coarse: number; fine: number };

/** Best alignment of `a`'s centre among `b`'s crops, refined at the fine level. */
function oneWay(a: ImageSignature, b: ImageSignature): { coarse: number; fine: number } {
  let best = -Infinity;
  let at: Crop = { scale: CENTRE, ox: 0, oy: 0 };
  for (const c of b.crops) {
    const s = dot(a.centre, c.thumb);
    if (s > best) {
      best = s;
      at = c.crop;
    }
  }
  if (best < COARSE_MIN) return { coarse: best, fine: -Infinity };
  const centre = (a.fineCentre ??= thumbnail(a.grey, FINE_SIDE, { scale: CENTRE, ox: 0, oy: 0 }));
  // At the coarse alignment first: copies usually pass there, and pairs far below the threshold
  // (distinct images that look alike at a glance) cannot be lifted over it by a finer alignment.
  let fine = dot(centre, thumbnail(b.grey, FINE_SIDE, at));
  if (fine >= FINE_MIN || fine < FINE_MIN - REFINE_MARGIN) return { coarse: best, fine };
  for (const ds of [-0.015, 0, 0.015])
    for (const dx of [-0.01, 0, 0.01])
      for (const dy of [-0.01, 0, 0.01]) {
        if (ds === 0 && dx === 0 && dy === 0) continue;
        fine = Math.max(
          fine,
          dot(
            centre,
            thumbnail(b.grey, FINE_SIDE, { scale: at.scale + ds, ox: at.ox + dx, oy: at.oy + dy }),
          ),
        );
        if (fine >= FINE_MIN) return { coarse: best, fine };
      }
  return { coarse: best, fine };
}

/** How alike two images are (see the file comment); `fine` is −∞ when the coarse level already says no. */
export function similarity(a: ImageSignature, b: ImageSignature): Similarity {
  const chroma = Math.hypot(a.chroma[0] - b.chroma[0], a.chroma[1] - b.chroma[1]);
  if (chroma > CHROMA_MAX) return { chroma, coarse: -Infinity, fine: -Infinity };
  const ab = oneWay(a, b);
  const ba = oneWay(b, a);
  return { chroma, coarse: Math.max(ab.coarse, ba.coarse), fine: Math.max(ab.fine, ba.fine) };
}

export function isNearDuplicate(s: Similarity): boolean {
  return s.chroma <= CHROMA_MAX && s.coarse >= COARSE_MIN && s.fine >= FINE_MIN;
}
