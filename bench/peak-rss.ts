import { readFileSync } from 'node:fs';

/** The kernel's peak resident set of this process in MB (Linux VmHWM); catches peaks between samples. null elsewhere. */
export function vmHwmMb(): number | null {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}
