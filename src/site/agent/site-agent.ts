import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { isSiteMethod, SiteEvent, type SiteCallResult, type SiteHandlers } from '../../shared/site-api';
import { CONTENT_SECURITY_POLICY } from '../../shared/content-security-policy';
import { formatZodIssues } from '../../shared/zod-issues';
import { dispatchSiteCall } from '../api/dispatch-site-call';
import { EventStream } from './event-stream';
import { newSessionToken, tokenMatches } from './session-token';
import { openStaticFile, resolveStaticFile } from './static-files';

/** Header that carries the session token on API calls (EventSource cannot set headers: query param). */
export const AGENT_TOKEN_HEADER = 'x-fgl-token';
/** Error code for `datasets.pickFolder` where no native folder picker exists (the browser UI). */
export const PICK_FOLDER_UNAVAILABLE = 'not_available';

const MAX_BODY_BYTES = 1024 * 1024;
const CALL_PREFIX = '/api/call/';

export type SiteAgentOptions = {
  handlers: SiteHandlers;
  /** The built renderer (electron-vite's out/renderer). */
  rendererDir: string;
  /** Loopback only: the agent has no TLS and its token travels in the URL fragment. */
  host?: '127.0.0.1';
  /** 0 = a free port. */
  port?: number;
  /** Called with one line per request that was refused or failed (never the token). */
  log?: (line: string) => void;
};

export type SiteAgent = {
  /** Open this in a browser: `http://127.0.0.1:PORT/#token=…` (the fragment never reaches a server log). */
  url: string;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  port: number;
  token: string;
  /** Push an event to every open UI (e.g. a backend process crashed or restarted). */
  emit(e: SiteEvent): void;
  close(): Promise<void>;
};

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

function fail(code: string, message: string, hint?: string): SiteCallResult {
  return { ok: false, error: { code, message, ...(hint ? { hint } : {}) } };
}

/**
 * The headless site agent: serves the built renderer and the site API over HTTP on loopback, for
 * machines without a desktop (a GPU server reached through an SSH tunnel) or a plain browser.
 *
 * Security, in order of each request: the Host header must name this loopback port (a DNS
 * rebinding page cannot reach us under another name); a cross-origin Origin is refused; every
 * /api request carries the random session token (constant-time compare); each call is validated
 * against the shared zod contract before a handler sees it, and its result against the contract
 * before the UI sees it. Static files go out with the app's CSP and nosniff.
 */
export async function startSiteAgent(opts: SiteAgentOptions): Promise<SiteAgent> {
  const host = opts.host ?? '127.0.0.1';
  if (host !== '127.0.0.1')
    throw new Error(
      `The site agent binds 127.0.0.1 only, not ${String(host)}; reach it remotely through an SSH tunnel.`,
    );
  const token = newSessionToken();
  const events = new EventStream();
  const emit = (e: SiteEvent) => {
    const parsed = SiteEvent.safeParse(e);
    if (parsed.success) events.send(parsed.data);
    else
      opts.log?.(
        `dropped an event that does not match the contract: ${formatZodIssues(parsed.error.issues)}`,
      );
  };
  let allowedHosts = new Set<string>();
  let allowedOrigins = new Set<string>();

  const sendJson = (res: ServerResponse, status: number, body: SiteCallResult) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };
  const sendText = (res: ServerResponse, status: number, text: string) => {
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
    });
    res.end(text);
  };

  const readBody = (req: IncomingMessage): Promise<Buffer | null> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          resolve(null);
          req.removeAllListeners('data');
          req.resume();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  const handleCall = async (req: IncomingMessage, res: ServerResponse, method: string) => {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return sendJson(
        res,
        405,
        fail('method_not_allowed', `Use POST for ${CALL_PREFIX}${method.slice(0, 100)}`),
      );
    }
    if (!isSiteMethod(method))
      return sendJson(
        res,
        404,
        fail(
          'unknown_method',
          `Unknown site API method "${method.slice(0, 100)}"`,
          'The UI and the agent are from different FGL versions: rebuild with `npm run build`.',
        ),
      );
    // JSON only: a cross-site form post (text/plain) never reaches a handler.
    if (!/^application\/json(;|$)/i.test(req.headers['content-type'] ?? ''))
      return sendJson(
        res,
        415,
        fail('unsupported_media_type', 'Send the request body as application/json'),
      );
    const body = await readBody(req);
    if (body === null)
      return sendJson(
        res,
        413,
        fail('payload_too_large', `Request body over ${MAX_BODY_BYTES} bytes`),
      );
    let json: unknown;
    try {
      json = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch (err) {
      return sendJson(
        res,
        400,
        fail('invalid_json', `Request body is not JSON: ${(err as Error).message}`),
      );
    }
    if (method === 'datasets.pickFolder') {
      // A browser tab has no native folder dialog, and the agent must not open windows on a server.
      return sendJson(
        res,
        200,
        fail(
          PICK_FOLDER_UNAVAILABLE,
          'There is no folder picker in the browser UI.',
          "Type the folder's path as seen on the machine running `fgl site ui`.",
        ),
      );
    }

    // The call's work stops when the UI goes away (tab closed, network drop).
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished)
        ac.abort(new Error('The UI disconnected before the call finished.'));
    });
    const { status, result } = await dispatchSiteCall(opts.handlers, method, json, { signal: ac.signal, emit });
    if (!result.ok && result.error.code === 'internal_error')
      opts.log?.(`${method} failed: ${result.error.message}`);
    if (!res.destroyed && !res.writableEnded) sendJson(res, status, result);
  };

  const handleStatic = async (req: IncomingMessage, res: ServerResponse, pathname: string) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendText(res, 405, 'Method not allowed');
    }
    const file = await resolveStaticFile(opts.rendererDir, pathname);
    if (!file) return sendText(res, 404, 'Not found');
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'content-type': file.contentType,
      'content-length': file.size,
      // Hashed assets may be cached; index.html must not be, so a rebuild is picked up.
      'cache-control': file.contentType.startsWith('text/html')
        ? 'no-store'
        : 'private, max-age=3600',
    });
    if (req.method === 'HEAD') return res.end();
    // A browser that navigates away mid-download closes early; that is not an error.
    await pipeline(openStaticFile(file), res).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const hostHeader = (req.headers.host ?? '').toLowerCase();
    if (!allowedHosts.has(hostHeader)) {
      opts.log?.(`refused a request for Host "${hostHeader.slice(0, 100)}"`);
      return sendText(
        res,
        403,
        'Forbidden: this agent answers only to 127.0.0.1 and localhost on its own port.',
      );
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins.has(origin.toLowerCase())) {
      opts.log?.(`refused a cross-origin request from ${origin.slice(0, 100)}`);
      return sendText(res, 403, 'Forbidden: cross-origin requests are not accepted.');
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://agent.invalid');
    } catch {
      return sendText(res, 400, 'Bad request URL');
    }
    const pathname = url.pathname;

    if (pathname.startsWith('/api/')) {
      const given =
        pathname === '/api/events'
          ? (url.searchParams.get('token') ?? req.headers[AGENT_TOKEN_HEADER])
          : req.headers[AGENT_TOKEN_HEADER];
      if (!tokenMatches(token, Array.isArray(given) ? given[0] : given))
        return sendJson(
          res,
          401,
          fail(
            'unauthorized',
            'Missing or wrong session token.',
            "Open the link that `fgl site ui` printed; it carries this session's token.",
          ),
        );
      if (pathname === '/api/events') {
        if (req.method !== 'GET') return sendText(res, 405, 'Method not allowed');
        return events.attach(res, SECURITY_HEADERS);
      }
      if (pathname.startsWith(CALL_PREFIX)) {
        let method: string;
        try {
          method = decodeURIComponent(pathname.slice(CALL_PREFIX.length));
        } catch {
          return sendJson(res, 400, fail('bad_request', 'Malformed method name in the URL'));
        }
        return handleCall(req, res, method);
      }
      return sendJson(res, 404, fail('not_found', `No API route ${pathname.slice(0, 100)}`));
    }
    return handleStatic(req, res, pathname);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      opts.log?.(`request failed: ${(err as Error).message}`);
      if (!res.headersSent) sendText(res, 500, 'Internal error');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  allowedOrigins = new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}/#token=${token}`,
    origin,
    port,
    token,
    emit,
    close: async () => {
      events.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
