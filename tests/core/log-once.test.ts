import { describe, expect, it } from 'vitest';
import { logOnce } from '../../src/core/log-once';

describe('logOnce', () => {
  it('says a setup note once per process, however many evaluations ask', () => {
    const lines: string[] = [];
    for (let i = 0; i < 3; i++) {
      const note = logOnce((l) => lines.push(l));
      note('tfjs backend: cpu (test note)');
      note(`evaluation ${i}`);
    }
    expect(lines).toEqual(['tfjs backend: cpu (test note)', 'evaluation 0', 'evaluation 1', 'evaluation 2']);
  });
});
