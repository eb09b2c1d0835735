import { describe, expect, it } from 'vitest';
import { pollUntil } from './child-process';

// pollUntil is the one polling helper the tests use (utility host, site backend, prepare and
// package handlers, fault tests): it returns the first defined value and names what it waited for.
describe('pollUntil', () => {
  it('returns the first value other than undefined, including falsy ones', async () => {
    let calls = 0;
    expect(await pollUntil(() => (++calls < 3 ? undefined : 0), { what: 'a zero', intervalMs: 1 })).toBe(0);
    expect(calls).toBe(3);
    expect(await pollUntil(async () => false, { what: 'false' })).toBe(false);
  });

  it('rejects after timeoutMs, saying what it waited for', async () => {
    await expect(pollUntil(() => undefined, { what: 'the moon', timeoutMs: 30, intervalMs: 5 })).rejects.toThrow(
      'timed out waiting for the moon',
    );
  });
});
