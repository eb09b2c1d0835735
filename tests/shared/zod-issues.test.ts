import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatZodIssues } from '../../src/shared/zod-issues';

describe('formatZodIssues', () => {
  const schema = z.object({ a: z.object({ b: z.number() }), c: z.string(), d: z.boolean(), e: z.number(), f: z.number(), g: z.number() });

  it('writes path: message per issue, joined by "; "', () => {
    const r = schema.safeParse({ a: { b: 'x' }, c: 1, d: true, e: 1, f: 1, g: 1 });
    expect(r.success).toBe(false);
    const text = formatZodIssues(r.error!.issues);
    expect(text).toMatch(/^a\.b: [^;]+; c: [^;]+$/);
  });

  it('names an issue about the whole value (root)', () => {
    const r = schema.safeParse(42);
    expect(formatZodIssues(r.error!.issues)).toMatch(/^\(root\): /);
  });

  it('keeps only the first `limit` issues when given one', () => {
    const r = schema.safeParse({});
    expect(r.error!.issues.length).toBe(6);
    expect(formatZodIssues(r.error!.issues).split('; ')).toHaveLength(6);
    expect(formatZodIssues(r.error!.issues, 5).split('; ').map((s) => s.split(':')[0])).toEqual(['a', 'c', 'd', 'e', 'f']);
  });

  it('prints symbol and number path segments instead of throwing', () => {
    const text = formatZodIssues([{ path: ['rows', 3, Symbol('k')], message: 'bad' }]);
    expect(text).toBe('rows.3.Symbol(k): bad');
  });
});
