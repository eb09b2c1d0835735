import { describe, expect, it, vi } from 'vitest';
import { IPC_CALL, IPC_EVENT } from '../../src/shared/ipc-channels';
import { SITE_METHODS } from '../../src/shared/site-api';

// Electron is the one thing mocked: its binary cannot be downloaded here.
const exposed: Record<string, unknown> = {};
const invoke = vi.fn(async (..._args: unknown[]): Promise<unknown> => ({ ok: true, data: { n: 1 } }));
const listeners = new Map<string, (...a: unknown[]) => void>();
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => void (exposed[key] = api) },
  ipcRenderer: {
    invoke: (...a: unknown[]) => invoke(...a),
    on: (ch: string, l: (...a: unknown[]) => void) => void listeners.set(ch, l),
    removeListener: (ch: string) => void listeners.delete(ch),
  },
}));

await import('../../src/preload/index');

describe('preload', () => {
  it('exposes exactly one global with exactly the SiteApiClient keys', () => {
    expect(Object.keys(exposed)).toEqual(['fgl']);
    expect(Object.keys(exposed.fgl as object).sort()).toEqual(['call', 'on']);
  });
  it('uses the channels main registers', async () => {
    const api = exposed.fgl as { call(m: string, r: unknown): Promise<unknown>; on(l: (e: unknown) => void): () => void };
    await expect(api.call('settings.get', {})).resolves.toEqual({ n: 1 });
    expect(invoke).toHaveBeenCalledWith(IPC_CALL, 'settings.get', {});
    const got: unknown[] = [];
    const off = api.on((e) => got.push(e));
    listeners.get(IPC_EVENT)!({ sender: 'raw-event' }, { type: 'backend', state: 'ready', message: 'x' });
    expect(got).toEqual([{ type: 'backend', state: 'ready', message: 'x' }]); // data only, never the raw event
    off();
    expect(listeners.has(IPC_EVENT)).toBe(false);
  });
  it('turns error results into thrown errors with code and hint', async () => {
    invoke.mockResolvedValueOnce({ ok: false, error: { code: 'invalid_request', message: 'bad', hint: 'fix it' } });
    const api = exposed.fgl as { call(m: string, r: unknown): Promise<unknown> };
    await expect(api.call('settings.get', {})).rejects.toMatchObject({ message: 'bad', code: 'invalid_request', hint: 'fix it' });
  });
  it('the contract lists every method the UI may call', () => {
    expect(SITE_METHODS).toContain('upload.approve');
    expect(SITE_METHODS.every((m) => /^[a-z]+\.[a-zA-Z]+$/.test(m))).toBe(true);
  });
});
