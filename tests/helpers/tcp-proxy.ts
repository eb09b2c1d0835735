import net from 'node:net';

/** What the proxy does to the response of the first request whose head matches `match`. */
export type ProxyFault = {
  /** Matched against the request head (request line + headers), e.g. the file's URL and no Range. */
  match: (requestHead: string) => boolean;
  /** cut: close both sockets once this many response bytes passed; flip: invert the byte at this offset of the response. */
  kind: 'cut' | 'flip';
  at: number;
};

export type TcpProxy = {
  url: string;
  /** Every request head seen, in order. */
  requests: string[];
  /** Response bytes forwarded after each request head, by the request's index in `requests`. */
  responseBytes: number[];
  /** Arm a fault for the next matching request (one shot). */
  fault(f: ProxyFault): void;
  /** Whether the armed fault was applied. */
  readonly faulted: boolean;
  close(): Promise<void>;
};

/**
 * A plain TCP proxy on loopback in front of a real server, which can drop a connection after
 * N response bytes or flip one byte of a response: a network that fails the way real ones do,
 * with the real HTTP stack on both sides. HTTP/1.1 answers requests on a connection in order,
 * so the bytes after a request head belong to its response.
 */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const requests: string[] = [];
  const responseBytes: number[] = [];
  let armed: ProxyFault | null = null;
  let faulted = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    let current = -1;
    let fault: ProxyFault | null = null;
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      const head = chunk.toString('latin1');
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(head)) {
        current = requests.push(head) - 1;
        responseBytes[current] = 0;
        sent = 0;
        if (armed && armed.match(head)) {
          fault = armed;
          armed = null;
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (current >= 0) responseBytes[current]! += chunk.length;
      if (fault?.kind === 'flip' && sent <= fault.at && fault.at < sent + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[fault.at - sent] = chunk[fault.at - sent]! ^ 0xff;
        fault = null;
        faulted = true;
      } else if (fault?.kind === 'cut' && sent + chunk.length >= fault.at) {
        const keep = fault.at - sent;
        responseBytes[current]! -= chunk.length - keep;
        fault = null;
        faulted = true;
        // The connection ends mid-response after exactly the bytes counted here: end() sends them,
        // then FIN. destroy() dropped whatever was still queued for a slow reader, so on a loaded
        // machine the count included bytes the client never got (a resume test failed by 13 kB in
        // a clean-clone CI run).
        upstream.off('close', end).off('error', end).on('error', () => {});
        upstream.destroy();
        client.end(chunk.subarray(0, keep));
        return;
      }
      sent += chunk.length;
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    requests,
    responseBytes,
    fault(f) {
      armed = f;
      faulted = false;
    },
    get faulted() {
      return faulted;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
