import { createHash } from 'node:crypto';

/**
 * The seed of image `index` of package row `row`: a hash, so it depends on nothing but these
 * values (not on batch order, resume point or which other packages are in the round). 48 bits
 * keep it a safe integer for JSON and the seeded generator.
 */
export function imageSeed(
  baseSeed: number,
  packageSha256: string,
  row: number,
  index: number,
): number {
  const digest = createHash('sha256')
    .update(`fgl-synthesis-seed\0${baseSeed}\0${packageSha256}\0${row}\0${index}`)
    .digest();
  return digest.readUIntBE(0, 6);
}
