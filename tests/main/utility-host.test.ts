import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UtilityBackend, type ChildLike } from '../../src/main/utility-host';
import type { SiteEvent } from '../../src/shared/site-api';
import { pollUntil } from '../helpers/child-process';

const script = fileURLToPath(new URL('../fixtures/backend/echo-backend.mjs', import.meta.url));

/** Electron's utilityProcess.fork stand-in: a real Node child process with the same surface. */
function forkChild(): ChildLike {
  const cp = fork(script, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  return {
    postMessage: (m) => void cp.send(m),
    on: ((event: 'message' | 'exit', l: (x: never) => void) => cp.on(event, l as never)) as ChildLike['on'],
    kill: () => cp.kill(),
  };
}

const waitFor = (pred: () => boolean, what: string) =>
  pollUntil(() => (pred() ? true : undefined), { what, timeoutMs: 10_000, intervalMs: 20 });

describe('utility-process host', () => {
  it('relays calls and events, and restarts a crashed backend, failing the pending call clearly', async () => {
    const events: SiteEvent[] = [];
    const host = new UtilityBackend(forkChild, (e) => events.push(e), () => ({ type: 'configure', home: '/tmp', keyEncryptionKey: null }));
    host.start();
    const r1 = await host.call('settings.get', {});
    expect(r1).toMatchObject({ ok: true, data: { method: 'settings.get' } });
    expect(events.some((e) => e.type === 'progress')).toBe(true);
    const pid1 = (r1 as { data: { pid: number } }).data.pid;

    const crashed = await host.call('crash', {});
    expect(crashed).toMatchObject({ ok: false, error: { code: 'backend_crashed' } });
    expect(events.some((e) => e.type === 'backend' && e.state === 'crashed')).toBe(true);
    await waitFor(() => events.some((e) => e.type === 'backend' && e.state === 'restarted'), 'the backend to restart');

    const r2 = await host.call('settings.get', {});
    expect(r2).toMatchObject({ ok: true });
    expect((r2 as { data: { pid: number } }).data.pid).not.toBe(pid1);
    host.stop();
  });
  it('gives up after repeated crashes instead of spinning', async () => {
    const events: SiteEvent[] = [];
    const host = new UtilityBackend(forkChild, (e) => events.push(e), () => ({ type: 'configure', home: '/tmp', keyEncryptionKey: null }), 2);
    host.start();
    for (let i = 0; i < 3; i++) {
      await waitFor(() => events.filter((e) => e.type === 'backend' && e.state === 'ready').length > i, `ready event ${i + 1}`);
      await host.call('crash', {});
    }
    expect(events.at(-1)).toMatchObject({ type: 'backend', state: 'crashed' });
    expect((events.at(-1) as { message: string }).message).toMatch(/not restarted/);
    await expect(host.call('settings.get', {})).resolves.toMatchObject({ ok: false, error: { code: 'backend_unavailable' } });
  });
});
