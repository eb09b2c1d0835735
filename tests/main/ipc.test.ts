import { describe, expect, it } from 'vitest';
import { registerSiteIpc } from '../../src/main/ipc';
import { IPC_CALL } from '../../src/shared/ipc-channels';

type Handler = (event: unknown, method: unknown, req: unknown) => Promise<unknown>;

function fakeIpcMain() {
  const handlers = new Map<string, Handler>();
  return {
    handlers,
    handle: (ch: string, h: Handler) => void handlers.set(ch, h),
    removeHandler: (ch: string) => void handlers.delete(ch),
  };
}

const appFrame = { url: 'file:///app/index.html', parent: null };

describe('IPC registration', () => {
  const calls: [string, unknown][] = [];
  const ipc = fakeIpcMain();
  const unregister = registerSiteIpc(ipc as never, {
    appWebContentsId: () => 1,
    appOrigin: 'file://',
    backend: { call: async (m, r) => (calls.push([m, r]), { ok: true, data: { echoed: m } }) },
  });
  const invoke = (method: unknown, req: unknown, sender = { id: 1 }, senderFrame: unknown = appFrame) => ipc.handlers.get(IPC_CALL)!({ sender, senderFrame }, method, req);

  it('registers exactly one channel', () => {
    expect([...ipc.handlers.keys()]).toEqual([IPC_CALL]);
  });
  it('forwards a valid call from the app window to the backend, validated', async () => {
    await expect(invoke('datasets.scan', { dir: '/data', k: 5 })).resolves.toEqual({ ok: true, data: { echoed: 'datasets.scan' } });
    expect(calls.at(-1)).toEqual(['datasets.scan', { dir: '/data', k: 5 }]);
  });
  it('drops calls from other windows and frames before they reach the backend', async () => {
    const n = calls.length;
    expect(await invoke('settings.get', {}, { id: 2 })).toMatchObject({ ok: false, error: { code: 'untrusted_sender' } });
    expect(await invoke('settings.get', {}, { id: 1 }, { url: 'https://evil.example/', parent: null })).toMatchObject({ ok: false, error: { code: 'untrusted_sender' } });
    expect(calls.length).toBe(n);
  });
  it('rejects unknown methods and invalid or extra fields', async () => {
    const n = calls.length;
    expect(await invoke('__proto__', {})).toMatchObject({ ok: false, error: { code: 'unknown_method' } });
    expect(await invoke('fs.readFile', { path: '/etc/passwd' })).toMatchObject({ ok: false, error: { code: 'unknown_method' } });
    expect(await invoke('datasets.scan', { dir: 42 })).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect(await invoke('upload.approve', { runId: 'r', approver: 'a', confirm: false })).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect(await invoke('settings.update', { dataHome: '/tmp/x' })).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect(calls.length).toBe(n);
  });
  it('unregisters', () => {
    unregister();
    expect(ipc.handlers.size).toBe(0);
  });
});
