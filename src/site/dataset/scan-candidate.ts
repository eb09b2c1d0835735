import type { SkipReason } from './scan-result';

/** What a layout (folder walk or manifest) hands to verification, one entry at a time. */
export type ScanCandidate =
  /** A class exists (a class folder, or a label in the manifest), even if it ends up empty. */
  | { kind: 'class'; label: string }
  /** A file to verify. `path` is relative and `/`-separated. */
  | { kind: 'file'; path: string; absPath: string; label: string; patientId?: string }
  /** Left out without opening it. */
  | { kind: 'skip'; path: string; reason: SkipReason; detail: string; label?: string };
