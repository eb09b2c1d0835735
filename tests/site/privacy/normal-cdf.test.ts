import { describe, expect, it } from 'vitest';
import { erfc, logErfc, logNormalCdf, normalCdf } from '../../../src/site/privacy/normal-cdf';

// Printed by Python 3's math.erfc (libm), e.g. `python3 -c "import math; print(repr(math.erfc(3)))"`.
const ERFC_REFERENCE: [number, number][] = [
  [-3, 1.9999779095030015],
  [-1, 1.842700792949715],
  [-0.3, 1.3286267594591274],
  [0, 1.0],
  [0.1, 0.8875370839817152],
  [0.5, 0.4795001221869535],
  [1, 0.15729920705028513],
  [1.5, 0.033894853524689274],
  [1.9999, 0.004679802092970608],
  [2, 0.004677734981047265],
  [2.5, 0.0004069520174449589],
  [3, 2.2090496998585438e-5],
  [4, 1.541725790028002e-8],
  [6, 2.1519736712498916e-17],
  [10, 2.088487583762545e-45],
  [20, 5.3958656116079005e-176],
  [26, 5.663192408856143e-296],
];

describe('erfc', () => {
  it.each(ERFC_REFERENCE)('erfc(%d) matches math.erfc to 1e-12 relative', (x, ref) => {
    expect(Math.abs(erfc(x) - ref) / ref).toBeLessThan(1e-12);
    expect(Math.abs(logErfc(x) - Math.log(ref))).toBeLessThan(1e-12);
  });

  it('is decreasing and stays in [0, 2]', () => {
    let prev = 2;
    for (let x = -6; x <= 27; x += 0.01) {
      const v = erfc(x);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(prev + 1e-16);
      prev = v;
    }
  });
});

describe('normal CDF', () => {
  it('has the textbook values', () => {
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 14);
    expect(normalCdf(-1) + normalCdf(1)).toBeCloseTo(1, 15);
  });

  it('keeps log Φ finite far in the lower tail, where Φ itself underflows', () => {
    expect(normalCdf(-40)).toBe(0);
    // Mills ratio: log Φ(-x) ≈ -x²/2 - log(x √(2π)) for large x.
    const x = 40;
    const asymptotic = (-x * x) / 2 - Math.log(x * Math.sqrt(2 * Math.PI));
    expect(logNormalCdf(-x)).toBeCloseTo(asymptotic, 2);
    expect(Number.isFinite(logNormalCdf(-1000))).toBe(true);
    expect(logNormalCdf(-1000)).toBeLessThan(logNormalCdf(-999));
  });
});
