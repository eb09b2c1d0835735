/**
 * Calibration of the near-duplicate thresholds (perceptual-hash.ts) on real photographs
 * (tests/fixtures/real-photos: scikit-image's sample data, incl. a retina and microscopy images)
 * and the generated sample shapes: every edited copy of a photograph must be found, and no two
 * distinct photographs may be. The measured margins are printed and listed in docs/threat-model.md.
 */
import { createHash, createHmac } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/core/image/decode-image';
import {
  imageSignature,
  isNearDuplicate,
  similarity,
  FINE_MIN,
  type Similarity,
} from '../../../src/site/privacy/perceptual-hash';
import { groupPrivacyUnits } from '../../../src/site/privacy/privacy-units';

const PHOTOS = join(__dirname, '..', '..', 'fixtures', 'real-photos');

async function sig(buf: Uint8Array) {
  const d = await decodeImage(buf, { resizeShortSide: 96 });
  return imageSignature(d.data, d.width, d.height);
}

/** The edits a copy may have gone through: re-encoded, resampled, shifted, cropped, brightened, blurred. */
async function variants(buf: Buffer): Promise<Record<string, Buffer>> {
  const { width: W = 0, height: H = 0 } = await sharp(buf).metadata();
  const dx = Math.round(W * 0.03);
  const dy = Math.round(H * 0.03);
  const cx = Math.round(W * 0.04);
  const cy = Math.round(H * 0.04);
  const padded = await sharp(buf)
    .extend({ top: dy, left: dx, extendWith: 'copy' })
    .png()
    .toBuffer();
  return {
    'JPEG q60': await sharp(buf).jpeg({ quality: 60 }).toBuffer(),
    'half size': await sharp(buf)
      .resize(Math.round(W / 2))
      .png()
      .toBuffer(),
    'shift 3 %': await sharp(padded)
      .extract({ left: 0, top: 0, width: W, height: H })
      .png()
      .toBuffer(),
    'crop 8 %': await sharp(buf)
      .extract({ left: cx, top: cy, width: W - 2 * cx, height: H - 2 * cy })
      .png()
      .toBuffer(),
    'brightness +4 %': await sharp(buf).modulate({ brightness: 1.04 }).png().toBuffer(),
    'brightness −4 %': await sharp(buf).modulate({ brightness: 0.96 }).png().toBuffer(),
    'blur σ 1': await sharp(buf).blur(1).png().toBuffer(),
  };
}

describe('near-duplicate thresholds, calibrated on real photographs', () => {
  it('finds every edited copy and no pair of distinct photographs', async () => {
    const files = (await readdir(PHOTOS)).filter((f) => f.endsWith('.jpg')).sort();
    expect(files.length).toBeGreaterThanOrEqual(20);
    const originals = [];
    const worst: Record<string, Similarity> = {};
    for (const f of files) {
      const buf = await readFile(join(PHOTOS, f));
      const o = await sig(buf);
      originals.push(o);
      for (const [edit, copy] of Object.entries(await variants(buf))) {
        const s = similarity(o, await sig(copy));
        expect(isNearDuplicate(s), `${f}, ${edit}: ${JSON.stringify(s)}`).toBe(true);
        if (!worst[edit] || s.fine < worst[edit].fine) worst[edit] = s;
      }
    }
    let closest = { fine: -Infinity, pair: '' };
    for (let i = 0; i < originals.length; i++)
      for (let j = i + 1; j < originals.length; j++) {
        const s = similarity(originals[i]!, originals[j]!);
        expect(isNearDuplicate(s), `${files[i]} vs ${files[j]}`).toBe(false);
        if (s.fine > closest.fine) closest = { fine: s.fine, pair: `${files[i]} ~ ${files[j]}` };
      }
    const edits = Object.entries(worst).map(([e, s]) => `${e}: fine ≥ ${s.fine.toFixed(3)}`);
    console.log(
      `copies — ${edits.join('; ')}\ndistinct — closest ${closest.pair} fine ${closest.fine.toFixed(3)} (threshold ${FINE_MIN})`,
    );
    expect(closest.fine).toBeLessThan(FINE_MIN);
  }, 60_000);

  it('groups files into units: identical bytes, near-copies and one patient count once; keys are by content', async () => {
    const retina = await readFile(join(PHOTOS, 'retina.jpg'));
    const coins = await readFile(join(PHOTOS, 'coins.jpg'));
    const moon = await readFile(join(PHOTOS, 'moon.jpg'));
    const bytes = [
      retina,
      retina,
      await sharp(retina).modulate({ brightness: 1.03 }).jpeg().toBuffer(),
      coins,
      moon,
      moon,
    ];
    const images = [
      { sha256: 'a'.repeat(64), label: 'x' },
      { sha256: 'a'.repeat(64), label: 'y' }, // the same file in another class: still one picture
      { sha256: 'b'.repeat(64), label: 'x' },
      { sha256: 'c'.repeat(64), label: 'x', patientId: 'P1' },
      { sha256: 'd'.repeat(64), label: 'x', patientId: 'P1' },
      { sha256: 'e'.repeat(64), label: 'y' },
    ];
    const key = Buffer.alloc(32, 7);
    const u = await groupPrivacyUnits(images, (i) => sig(bytes[i]!), key);
    expect(u.unitOf).toEqual([0, 0, 0, 1, 1, 2]);
    expect(u.merged).toEqual({ patient: 1, identical: 1, nearDuplicate: 1 });
    expect(u.kind).toBe('mixed');
    expect(u.keys[0]).toBe(`image:${'a'.repeat(64)}`);
    expect(u.keys[1]).toMatch(/^patient:[0-9a-f]{64}$/);
    expect(u.keys[1]).not.toContain('P1');
  });

  it('stores a patient only as an HMAC under the site key: a dictionary of ids does not reverse it', async () => {
    // The attack: patient ids are short (MRNs), so a plain sha256 of one is reversed by hashing
    // every candidate id. Under a per-site secret key the same dictionary finds nothing, and two
    // sites' keys for one patient differ.
    const images = [{ sha256: 'f'.repeat(64), label: 'x', patientId: '0012345' }];
    const none = async () => null;
    const [a, b] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
    const keyA = (await groupPrivacyUnits(images, none, a)).keys[0]!;
    const keyB = (await groupPrivacyUnits(images, none, b)).keys[0]!;
    expect(keyA).not.toBe(keyB);
    const dictionary = Array.from({ length: 100_000 }, (_, i) => String(i).padStart(7, '0'));
    const found = dictionary.filter((id) => `patient:${createHash('sha256').update(id).digest('hex')}` === keyA);
    expect(found).toEqual([]);
    expect(keyA).toBe(`patient:${createHmac('sha256', a).update('0012345').digest('hex')}`);
  });
});
