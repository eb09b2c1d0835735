import { afterEach, beforeEach, vi } from 'vitest';

/**
 * Capture what the in-process CLI (`main(argv)`) writes to stdout and stderr in each test of
 * the calling file; read and reset `out` / `err` on the returned object.
 */
export function captureOutput(): { out: string; err: string } {
  const captured = { out: '', err: '' };
  beforeEach(() => {
    captured.out = '';
    captured.err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation(
      (s) => ((captured.out += String(s)), true),
    );
    vi.spyOn(process.stderr, 'write').mockImplementation(
      (s) => ((captured.err += String(s)), true),
    );
  });
  afterEach(() => vi.restoreAllMocks());
  return captured;
}
