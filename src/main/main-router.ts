import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { SiteCallResult } from '../shared/site-api';
import type { Backend } from './ipc';

/** What main asks of the operator through native UI (Electron's dialog in the app; stand-ins in tests). */
export type NativeUi = {
  /** The native folder picker; null when cancelled. */
  pickFolder(): Promise<string | null>;
  /** Ask before the site enrolls with (sends its token to) a server it has not used before. */
  confirmServer(origin: string): Promise<boolean>;
};

/** Methods that read a dataset folder, and the request field that names it. */
const FOLDER_FIELDS: Record<string, string> = {
  'datasets.scan': 'dir',
  'prepare.start': 'dataDir',
  'evaluate.run': 'dataDir',
};

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

function inside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

const refused = (code: string, message: string, hint: string): SiteCallResult => ({
  ok: false,
  error: { code, message, hint },
});

/**
 * Main's side of the site API, in front of the backend. The renderer is not trusted with the
 * file system or the network on its own (a compromised page, an XSS): it may read only folders
 * the operator picked in the native dialog during this session (main keeps that set), and it may
 * enroll only with servers the operator confirmed in a native dialog, or already enrolled with.
 */
export function createMainRouter(o: {
  backend: Backend;
  ui: NativeUi;
  knownServers?: () => Promise<string[]>;
}): Backend & { picked(): string[] } {
  const picked = new Set<string>();
  const confirmed = new Set<string>();
  return {
    picked: () => [...picked],
    async call(method: string, req: unknown): Promise<SiteCallResult> {
      if (method === 'datasets.pickFolder') {
        const path = await o.ui.pickFolder();
        if (path !== null) picked.add(real(path));
        return { ok: true, data: { path } };
      }
      const field = FOLDER_FIELDS[method];
      if (field !== undefined) {
        const dir = (req as Record<string, unknown>)[field];
        const target = typeof dir === 'string' ? real(dir) : '';
        if (![...picked].some((p) => inside(target, p)))
          return refused(
            'folder_not_picked',
            `The folder ${typeof dir === 'string' ? dir : ''} was not chosen in this session.`,
            'Choose the folder with "Browse…" (the system folder picker) first.',
          );
      }
      if (method === 'connect.enroll') {
        const url = (req as { serverUrl?: unknown }).serverUrl;
        let origin: string;
        try {
          origin = new URL(String(url)).origin;
        } catch {
          return o.backend.call(method, req); // the backend says what is wrong with the URL
        }
        const known = (await o.knownServers?.()) ?? [];
        if (!confirmed.has(origin) && !known.includes(origin)) {
          if (!(await o.ui.confirmServer(origin)))
            return refused(
              'not_confirmed',
              `Enrollment with ${origin} was not confirmed.`,
              'Check the server address from your study coordinator and try again.',
            );
          confirmed.add(origin);
        }
      }
      return o.backend.call(method, req);
    },
  };
}
