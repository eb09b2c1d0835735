import net from 'node:net';

/** One HTTP request seen on its way to the server, with the bytes the server sent back for it. */
export type ProxiedRequest = {
  connection: number;
  method: string;
  path: string;
  range: string | null;
  /** Response bytes (head + body) relayed to the client for this request so far. */
  bytesToClient: number;
};

type Direction = { bytesPerSec: number | null };

/**
 * A TCP proxy on 127.0.0.1 in front of a server, for fault tests: it slows either direction down
 * (so a kill lands mid-transfer), can hold new connections until released (so the test can look
 * at the store between a crash and the client's retry), and logs every HTTP/1.1 request line
 * and Range header it relays (the site's Range resume is checked from outside the client).
 * When one side closes or dies, the other side is destroyed, as a real network would do.
 */
export class ThrottleProxy {
  readonly requests: ProxiedRequest[] = [];
  readonly up: Direction = { bytesPerSec: null };
  readonly down: Direction = { bytesPerSec: null };
  connections = 0;
  private held: (() => void)[] = [];
  private holding = false;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(targetPort: number): Promise<ThrottleProxy> {
    const server = net.createServer();
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const proxy = new ThrottleProxy(server, (server.address() as net.AddressInfo).port, targetPort);
    server.on('connection', (client: net.Socket) => proxy.accept(client));
    return proxy;
  }

  /** New connections wait (accepted, not yet forwarded) until `release()`. */
  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    const waiting = this.held;
    this.held = [];
    for (const go of waiting) go();
  }

  async close(): Promise<void> {
    this.release();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => this.server.close(() => res()));
  }

  private accept(client: net.Socket): void {
    const id = ++this.connections;
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => undefined);
    client.pause();
    const go = () => {
      if (client.destroyed) return;
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      this.sockets.add(upstream);
      upstream.on('close', () => {
        this.sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      const parser = requestParser((method, path, range) =>
        this.requests.push({ connection: id, method, path, range, bytesToClient: 0 }),
      );
      this.pipe(client, upstream, this.up, (chunk) => parser(chunk));
      this.pipe(upstream, client, this.down, (chunk) => {
        const last = this.requests.findLast((r) => r.connection === id);
        if (last) last.bytesToClient += chunk.length;
      });
      client.resume();
    };
    if (this.holding) this.held.push(go);
    else go();
  }

  /** Relay `from` → `to`, at most `dir.bytesPerSec` (read at every chunk, so it can change mid-transfer). */
  private pipe(
    from: net.Socket,
    to: net.Socket,
    dir: Direction,
    onChunk: (chunk: Buffer) => void,
  ): void {
    from.on('data', (chunk: Buffer) => {
      onChunk(chunk);
      const rate = dir.bytesPerSec;
      if (!rate) {
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
        return;
      }
      from.pause();
      to.write(chunk);
      setTimeout(() => from.resume(), (chunk.length / rate) * 1000);
    });
    from.on('end', () => to.end());
  }
}

/** Feeds on the client→server byte stream; calls `onRequest` for each request head (bodies skipped by Content-Length). */
function requestParser(
  onRequest: (method: string, path: string, range: string | null) => void,
): (chunk: Buffer) => void {
  let head = '';
  let skip = 0;
  return (chunk) => {
    let at = 0;
    while (at < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - at);
        skip -= n;
        at += n;
        continue;
      }
      head += chunk.subarray(at, at + 1).toString('latin1');
      at++;
      if (!head.endsWith('\r\n\r\n')) continue;
      const [requestLine, ...headers] = head.trim().split('\r\n');
      const [method = '', path = ''] = requestLine!.split(' ');
      const header = (name: string) =>
        headers
          .find((h) => h.toLowerCase().startsWith(`${name}:`))
          ?.slice(name.length + 1)
          .trim() ?? null;
      onRequest(method, path, header('range'));
      skip = Number(header('content-length') ?? 0);
      head = '';
    }
  };
}
