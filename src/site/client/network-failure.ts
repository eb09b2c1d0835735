import { isAxiosError } from 'axios';
import tls from 'node:tls';

/** A failure to talk to the server, as an error with a code the UI can act on and what to do. */
export type NetworkFailure = Error & { code: 'server_unreachable' | 'server_speaks_tls'; hint: string };

function codesAndMessages(err: unknown): { codes: string[]; text: string } {
  const codes: string[] = [];
  const texts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') codes.push(c);
    const m = (e as { message?: unknown }).message;
    if (typeof m === 'string') texts.push(m);
  }
  return { codes, text: texts.join(' | ') };
}

/**
 * An http:// request answered by a TLS server: Node's HTTP parser sees the TLS alert bytes
 * ("Parse Error: Expected HTTP/"). Permanent, so never worth a retry.
 */
export function isTlsAnswerToPlainHttp(err: unknown): boolean {
  const { codes, text } = codesAndMessages(err);
  return codes.some((c) => c.startsWith('HPE_')) || /Parse Error: Expected HTTP/.test(text);
}

const UNREACHABLE: Record<string, (host: string) => string> = {
  ECONNREFUSED: (h) => `nothing is listening at ${h} (connection refused)`,
  ENOTFOUND: (h) => `the host name in ${h} is not known to this computer's DNS`,
  EAI_AGAIN: (h) => `the host name in ${h} could not be looked up (DNS did not answer)`,
  ETIMEDOUT: (h) => `${h} did not answer in time`,
  ECONNABORTED: (h) => `${h} did not answer in time`,
  ECONNRESET: (h) => `${h} closed the connection`,
  EHOSTUNREACH: (h) => `there is no network route to ${h}`,
  ENETUNREACH: (h) => `this computer has no network route to ${h}`,
};

function speaksTlsFailure(url: URL): NetworkFailure {
  const https = `https://${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  return Object.assign(new Error(`The server at ${url.origin} speaks HTTPS (TLS), not plain HTTP.`), {
    code: 'server_speaks_tls' as const,
    hint: `Use ${https} as the server address.`,
  });
}

/**
 * A TLS server that gets a plain `GET` often just closes the socket (OpenSSL recognises an HTTP
 * request and sends no alert), which looks like any reset. For an http:// address whose request
 * was reset, one TLS handshake tells the two apart: when it completes, the address needs
 * https:// (a permanent mistake, never worth a retry). Certificates are not checked here: the
 * probe sends nothing and only learns that the port speaks TLS.
 */
export async function plainHttpToTlsServer(err: unknown, serverUrl: string, timeoutMs = 3000): Promise<NetworkFailure | null> {
  const url = new URL(serverUrl);
  if (url.protocol !== 'http:' || !isAxiosError(err) || err.response) return null;
  if (!codesAndMessages(err).codes.includes('ECONNRESET')) return null;
  const speaks = await new Promise<boolean>((resolve) => {
    const socket = tls.connect({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 80),
      rejectUnauthorized: false,
      ...(/^[\d.]+$|:/.test(url.hostname) ? {} : { servername: url.hostname }),
    });
    const done = (v: boolean) => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
  return speaks ? speaksTlsFailure(url) : null;
}

/** Classify an axios error that got no HTTP answer; null when it is not one (or was cancelled). */
export function networkFailure(err: unknown, serverUrl: string): NetworkFailure | null {
  if (!isAxiosError(err) || err.response || err.code === 'ERR_CANCELED') return null;
  const url = new URL(serverUrl);
  if (isTlsAnswerToPlainHttp(err)) return speaksTlsFailure(url);
  const { codes } = codesAndMessages(err);
  const known = codes.find((c) => c in UNREACHABLE);
  const what = known ? UNREACHABLE[known]!(url.host) : `${url.host} could not be reached (${err.message})`;
  return Object.assign(new Error(`Cannot reach the server: ${what}.`), {
    code: 'server_unreachable' as const,
    hint: 'Check that the server is running and that the address and port are the ones the study coordinator gave you; from a hospital network, ask IT whether this computer may reach it. Trying again is safe.',
  });
}
