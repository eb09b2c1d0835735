import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { IPC_CALL, IPC_EVENT } from '../shared/ipc-channels';
import { isSiteMethod, siteApi, type SiteCallResult, type SiteEvent } from '../shared/site-api';
import { formatZodIssues } from '../shared/zod-issues';
import { isTrustedSender } from './security';


export type Backend = {
  /** Runs one site API method (in the utility process). Resolves with data or a typed error. */
  call(method: string, req: unknown): Promise<SiteCallResult>;
};

/**
 * The one guarded registration point (the pattern of electron/fiddle's src/main/ipc.ts): drops calls
 * from anything but the app's own window, rejects unknown methods, validates each request
 * against the shared zod contract before it reaches the backend. Returns an unregister function.
 */
export function registerSiteIpc(
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>,
  opts: { appWebContentsId: () => number | undefined; appOrigin: string; backend: Backend; log?: (line: string) => void },
): () => void {
  ipcMain.handle(IPC_CALL, async (event: IpcMainInvokeEvent, method: unknown, req: unknown): Promise<SiteCallResult> => {
    if (!isTrustedSender(event.sender, event.senderFrame, opts.appWebContentsId(), opts.appOrigin)) {
      opts.log?.(`dropped IPC call from an untrusted sender (${event.senderFrame?.url ?? 'unknown'})`);
      return { ok: false, error: { code: 'untrusted_sender', message: 'Call refused: it did not come from the FGL window.' } };
    }
    // Never String() an untrusted value: {toString: 1} makes it throw.
    if (!isSiteMethod(method)) return { ok: false, error: { code: 'unknown_method', message: `Unknown method ${typeof method === 'string' ? JSON.stringify(method.slice(0, 100)) : `(${method === null ? 'null' : typeof method}, not a method name)`}` } };
    const parsed = siteApi[method].req.safeParse(req ?? {});
    if (!parsed.success)
      return { ok: false, error: { code: 'invalid_request', message: `Invalid request for ${method}: ${formatZodIssues(parsed.error.issues)}` } };
    return opts.backend.call(method, parsed.data);
  });
  return () => ipcMain.removeHandler(IPC_CALL);
}

/** Push a backend event to the app window (and nowhere else). */
export function sendSiteEvent(contents: Pick<WebContents, 'send' | 'isDestroyed'> | undefined, e: SiteEvent): void {
  if (contents && !contents.isDestroyed()) contents.send(IPC_EVENT, e);
}
