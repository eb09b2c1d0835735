import type { ServerResponse } from 'node:http';
import type { SiteEvent } from '../../shared/site-api';

/** Comment lines keep idle proxies and SSH tunnels from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

/** Server-Sent Events fan-out: every connected UI tab gets every SiteEvent. */
export class EventStream {
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor() {
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  attach(res: ServerResponse, extraHeaders: Record<string, string>): void {
    res.writeHead(200, {
      ...extraHeaders,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Tell EventSource to wait 2 s between reconnects, then flush the headers with a comment.
    res.write('retry: 2000\n: connected\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  send(e: SiteEvent): void {
    // JSON.stringify never emits a raw newline, so one `data:` line carries the whole event.
    this.write(`data: ${JSON.stringify(e)}\n\n`);
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private write(chunk: string): void {
    for (const res of this.clients) if (!res.writableEnded) res.write(chunk);
  }
}
