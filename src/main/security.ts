import type { WebPreferences } from 'electron';

/**
 * Electron security settings in one place (Electron's security checklist). Every decision here
 * has a test in tests/main/security.test.ts.
 */

export { CONTENT_SECURITY_POLICY } from '../shared/content-security-policy';

export function secureWebPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true, // the page cannot touch the preload's objects
    sandbox: true, // the renderer has no Node; the preload is CommonJS for this reason
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false, // spellcheck can send words to a cloud service on some platforms
  };
}

/**
 * The renderer's URL in development (electron-vite's dev server), or null for the bundled file.
 * A packaged app never honours ELECTRON_RENDERER_URL: whoever sets it would make any origin
 * the trusted app origin (IPC, navigation).
 */
export function devRendererUrl(env: NodeJS.ProcessEnv, isPackaged: boolean): string | null {
  if (isPackaged) return null;
  const url = env.ELECTRON_RENDERER_URL;
  return url !== undefined && url !== '' ? url : null;
}

/**
 * The app's own pages: exactly the bundled renderer file (any other local file is not the app),
 * or the dev server's origin in development. The bare `file://` accepts any file and is only
 * for tests of the other rules.
 */
export function isAppUrl(url: string, appOrigin: string): boolean {
  try {
    const u = new URL(url);
    if (appOrigin === 'file://') return u.protocol === 'file:';
    const app = new URL(appOrigin);
    if (app.protocol === 'file:') return u.protocol === 'file:' && u.host === app.host && u.pathname === app.pathname;
    return u.origin === app.origin;
  } catch {
    return false;
  }
}

/** Suffixes of names that only resolve inside a LAN (RFC 6762, RFC 8375, common intranet use). */
const LOCAL_SUFFIXES = ['localhost', 'local', 'internal', 'lan', 'home', 'home.arpa', 'localdomain', 'intranet', 'corp', 'private', 'arpa'];

/** Public wildcard-DNS services whose names resolve to any address, loopback and LAN included. */
const WILDCARD_DNS = ['nip.io', 'sslip.io', 'xip.io', 'traefik.me', 'localtest.me', 'lvh.me', 'vcap.me', 'lacolhost.com', 'localhost.run', 'fbi.com'];

/** An IPv4 address spelled inside a name (`10.0.0.5.example`, `10-0-0-5.example`). */
const EMBEDDED_IPV4 = /(^|[.-])\d{1,3}[.-]\d{1,3}[.-]\d{1,3}[.-]\d{1,3}([.-]|$)/;

const endsWithName = (host: string, name: string) => host === name || host.endsWith(`.${name}`);

/**
 * Links the UI may open in the system browser: https only, no credentials in the URL, no
 * IP-literal or local hosts (an attacker-supplied link must not reach into the hospital LAN),
 * including names that resolve to local addresses through wildcard DNS (`127.0.0.1.nip.io`) or
 * an embedded IPv4 address.
 */
export function isSafeExternalUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'https:') return false;
  if (u.username || u.password) return false;
  // A trailing dot is the same host to DNS (`localhost.`), so drop it before the checks.
  const host = u.hostname.toLowerCase().replace(/\.$/, '');
  if (LOCAL_SUFFIXES.some((s) => endsWithName(host, s)) || WILDCARD_DNS.some((s) => endsWithName(host, s))) return false;
  if (EMBEDDED_IPV4.test(host) || host.startsWith('[')) return false;
  return host.includes('.');
}

/** Only messages from the app's own top-level frame in the app's own window are handled. */
export function isTrustedSender(
  sender: { id: number } | null | undefined,
  senderFrame: { url: string; parent: unknown } | null | undefined,
  appWebContentsId: number | undefined,
  appOrigin: string,
): boolean {
  if (!sender || !senderFrame || appWebContentsId === undefined) return false;
  if (sender.id !== appWebContentsId) return false;
  if (senderFrame.parent !== null) return false; // no iframes
  return isAppUrl(senderFrame.url, appOrigin);
}

type GuardableContents = {
  on(event: 'will-navigate' | 'will-redirect', listener: (e: { preventDefault(): void }, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (e: { preventDefault(): void }) => void): unknown;
  setWindowOpenHandler(handler: (d: { url: string }) => { action: 'deny' }): void;
};

/** Block navigation away from the app and every new window; https links go to the system browser. */
export function installNavigationGuards(contents: GuardableContents, appOrigin: string, openExternal: (url: string) => void): void {
  const block = (e: { preventDefault(): void }, url: string) => {
    if (!isAppUrl(url, appOrigin)) e.preventDefault();
  };
  contents.on('will-navigate', block);
  contents.on('will-redirect', block);
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isSafeExternalUrl(url)) openExternal(url);
    return { action: 'deny' };
  });
}
