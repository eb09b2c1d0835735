import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../src/cli/tiny-models/seeded-random';
import { mulberry32, uniform32 } from '../../../src/core/random/generators';
import { createSeededRandom } from '../../../src/server/synthesis/schedulers/seeded-random';
import { seededRng } from '../../../src/site/privacy/seeded-rng';
import {
  createRng,
  deriveSeed,
  shuffleInPlace,
} from '../../../src/server/training/seeded-random';
import {
  dirichlet,
  gamma,
  normal,
  seededUniform as sampleDataUniform,
} from '../../../src/cli/sample-data/seeded-random';

// Every seeded stream is pinned by its first values, taken from the code BEFORE the generators
// moved into src/core/random/generators.ts: tiny-model weights, privacy k-means++ seeding and
// test noise, and the synthesis latents must stay bit-identical across the move.
describe('seeded streams stay bit-identical', () => {
  it('tiny-model weights: mulberry32 with the stream name mixed in, Irwin–Hall normals', () => {
    const t = new SeededRandom(7, 'clip');
    expect([t.uniform(), t.uniform(), t.normal(), Array.from(t.normals(3, 0.02))]).toEqual([
      0.2733932388946414, 0.2851975292433053, 0.4668629721851265,
      [0.028624560683965683, 0.044677671045064926, 0.009947450831532478],
    ]);
    const t0 = new SeededRandom(123);
    expect([t0.uniform(), t0.normal()]).toEqual([0.4994324683211744, -1.7993104517685372]);
  });

  it('privacy seededRng: splitmix32-seeded sfc32, 53-bit uniforms, Box–Muller pairs', () => {
    const p = seededRng(42);
    expect([p.next(), p.next(), p.normal(), p.normal(), p.normal()]).toEqual([
      0.23955312807799112, 0.09323416053257594, 0.6321259202741493, -0.8863289107225867,
      0.21727561792529412,
    ]);
    const p0 = seededRng(0);
    expect([p0.next(), p0.normal()]).toEqual([0.9791452499111826, 0.6906936427223068]);
  });

  it('synthesis createSeededRandom: xoshiro128** over both seed halves, 53-bit uniforms, Box–Muller', () => {
    const s = createSeededRandom(42);
    expect([s.uniform(), s.uniform(), s.normal(), s.normal(), s.normal(), Array.from(s.normals(3))]).toEqual([
      0.15377165265745885, 0.018084542542176507, -0.17628187931501416, -1.2246999983419469,
      -0.30617710185138414, [1.2679831981658936, -0.6412178874015808, 1.8409373760223389],
    ]);
    const big = createSeededRandom(2 ** 40 + 3);
    expect([big.uniform(), big.normal()]).toEqual([0.3083568228977591, -1.1164295197723793]);
    const s0 = createSeededRandom(0);
    expect([s0.uniform(), s0.normal()]).toEqual([0.41675133265905573, -0.1254692113798806]);
  });

  it('the UI fixture\'s plots: plain mulberry32(seed) / 2^32', () => {
    const r = uniform32(mulberry32(7));
    expect([r(), r(), r()]).toEqual([0.011704753153026104, 0.06195825757458806, 0.97690763277933]);
  });

  it('training: mulberry32(seed ^ 0x9e3779b9) / 2^32, derived tfjs seeds, Fisher–Yates', () => {
    const r = createRng(7);
    const r0 = createRng(0);
    expect([r(), r(), r(), r0(), r0()]).toEqual([
      0.9823943767696619, 0.3341257639694959, 0.6892532545607537, 0.3588899802416563,
      0.10590326134115458,
    ]);
    expect([deriveSeed(1, 1), deriveSeed(42, 5), deriveSeed(0, 100)]).toEqual([
      1897925496, 174830597, 1256661706,
    ]);
    expect(shuffleInPlace([0, 1, 2, 3, 4, 5, 6, 7], createRng(3))).toEqual([4, 6, 3, 2, 5, 1, 0, 7]);
  });

  it('sample data: mulberry32(seed) / 2^32, Box–Muller, Marsaglia–Tsang gamma, Dirichlet', () => {
    const m = sampleDataUniform(7);
    const big = sampleDataUniform(2 ** 32 + 5);
    expect([m(), m(), m(), big(), big()]).toEqual([
      0.011704753153026104, 0.06195825757458806, 0.97690763277933, 0.6897749109193683,
      0.7727432732935995,
    ]);
    expect(normal(sampleDataUniform(11))).toBe(-1.1760288225214257);
    expect([gamma(sampleDataUniform(5), 0.1), gamma(sampleDataUniform(5), 2.5)]).toEqual([
      0.008601217680419524, 2.503485186934047,
    ]);
    expect(dirichlet(sampleDataUniform(9), 0.5, 4)).toEqual([
      0.35945646308636586, 0.1721667248238071, 0.09159960028915297, 0.37677721180067403,
    ]);
  });
});
