import { describe, expect, it } from 'vitest';
import { createProgressMeter, type ProgressEvent } from '../../src/shared/progress';

describe('progress meter', () => {
  it('reports done/total, a measured rate and an ETA from a controlled clock', () => {
    let t = 0;
    const events: ProgressEvent[] = [];
    const m = createProgressMeter('embed', 100, (e) => events.push(e), () => t);
    for (let i = 0; i < 10; i++) {
      t += 1000; // 1 s per batch of 5
      m.advance(5);
    }
    const last = events.at(-1)!;
    expect(last.done).toBe(50);
    expect(last.total).toBe(100);
    expect(last.ratePerSec).toBeCloseTo(5, 5);
    expect(last.etaSec).toBeCloseTo(10, 5);
  });
  it('has no ETA when the total is unknown', () => {
    let t = 0;
    const events: ProgressEvent[] = [];
    const m = createProgressMeter('scan', null, (e) => events.push(e), () => t);
    t += 500;
    m.advance(3);
    expect(events[0]!.etaSec).toBeNull();
    expect(events[0]!.ratePerSec).toBeCloseTo(6, 5);
  });
});
