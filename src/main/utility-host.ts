import type { FromBackend, ToBackend } from '../shared/backend-protocol';
import type { SiteCallResult, SiteEvent } from '../shared/site-api';
import type { Backend } from './ipc';

/** The part of Electron's UtilityProcess this host uses (so tests can supply a real child process). */
export type ChildLike = {
  postMessage(message: ToBackend): void;
  on(event: 'message', listener: (m: FromBackend) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  kill(): boolean;
};

/**
 * Runs the site backend in one utility process (ML + sqlite off the main process; ORT in several
 * threads under Electron has crashed: microsoft/onnxruntime#20084). If it dies, pending calls
 * fail with a clear error, the UI is told, and it is restarted — at most `maxRestarts` times
 * in a minute so a crash loop cannot spin.
 */
export class UtilityBackend implements Backend {
  private child: ChildLike | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (r: SiteCallResult) => void>();
  private restarts: number[] = [];
  private stopping = false;

  constructor(
    private readonly fork: () => ChildLike,
    private readonly onEvent: (e: SiteEvent) => void,
    private readonly configure: () => ToBackend & { type: 'configure' },
    private readonly maxRestarts = 3,
  ) {}

  start(): void {
    const child = this.fork();
    this.child = child;
    child.on('message', (m) => this.onMessage(m));
    child.on('exit', (code) => this.onExit(child, code));
    child.postMessage(this.configure());
  }

  private onMessage(m: FromBackend): void {
    if (m.type === 'result') {
      this.pending.get(m.id)?.(m.result);
      this.pending.delete(m.id);
    } else if (m.type === 'event') this.onEvent(m.event);
    else if (m.type === 'ready') this.onEvent({ type: 'backend', state: 'ready', message: 'Site backend ready.' });
  }

  private onExit(child: ChildLike, code: number): void {
    if (child !== this.child) return;
    this.child = undefined;
    for (const resolve of this.pending.values())
      resolve({ ok: false, error: { code: 'backend_crashed', message: `The site backend stopped (exit code ${code}) before it answered.`, hint: 'It has been restarted; try again. Finished work is kept in the ledger.' } });
    this.pending.clear();
    if (this.stopping) return;
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < 60_000);
    if (this.restarts.length >= this.maxRestarts) {
      this.onEvent({ type: 'backend', state: 'crashed', message: `The site backend crashed ${this.maxRestarts} times in a minute and was not restarted. Restart the app; if it persists, see the log.` });
      return;
    }
    this.restarts.push(now);
    this.onEvent({ type: 'backend', state: 'crashed', message: `The site backend stopped unexpectedly (exit code ${code}); restarting it.` });
    this.start();
    this.onEvent({ type: 'backend', state: 'restarted', message: 'The site backend was restarted.' });
  }

  call(method: string, req: unknown): Promise<SiteCallResult> {
    const child = this.child;
    if (!child) return Promise.resolve({ ok: false, error: { code: 'backend_unavailable', message: 'The site backend is not running.', hint: 'Restart the app.' } });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      child.postMessage({ type: 'call', id, method, req });
    });
  }

  stop(): void {
    this.stopping = true;
    this.child?.kill();
  }
}
