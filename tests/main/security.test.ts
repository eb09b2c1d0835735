import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, installNavigationGuards, isAppUrl, isSafeExternalUrl, isTrustedSender, secureWebPreferences } from '../../src/main/security';

describe('window security settings', () => {
  it('uses the secure defaults of the Electron checklist', () => {
    const p = secureWebPreferences('/app/preload.cjs');
    expect(p).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, allowRunningInsecureContent: false, webviewTag: false, nodeIntegrationInSubFrames: false, nodeIntegrationInWorker: false });
    expect(p.preload).toBe('/app/preload.cjs');
  });
  it('CSP forbids remote and inline scripts, eval, frames and plugins', () => {
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/script-src[^;]*(unsafe-inline|unsafe-eval|https?:|\*)/);
    expect(CONTENT_SECURITY_POLICY).toContain("object-src 'none'");
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
  });
});

describe('URL validation', () => {
  it.each([
    ['https://github.com/fgl/fgl', true],
    ['https://docs.example.org/a?b=c', true],
    ['http://example.org', false],
    ['file:///etc/passwd', false],
    ['javascript:alert(1)', false],
    ['https://user:pw@example.org', false],
    ['https://localhost/x', false],
    ['https://10.0.0.5/admin', false],
    ['https://[::1]/', false],
    ['https://printer.local/', false],
    ['https://intranet/', false],
    ['not a url', false],
  ])('openExternal allows %s: %s', (url, ok) => {
    expect(isSafeExternalUrl(url)).toBe(ok);
  });
  it('recognises the app origin for file:// and for a dev server', () => {
    expect(isAppUrl('file:///opt/fgl/renderer/index.html', 'file://')).toBe(true);
    expect(isAppUrl('https://evil.example', 'file://')).toBe(false);
    expect(isAppUrl('http://localhost:5173/#/prepare', 'http://localhost:5173')).toBe(true);
    expect(isAppUrl('http://localhost:5174/', 'http://localhost:5173')).toBe(false);
  });
});

describe('sender validation', () => {
  const top = { url: 'file:///app/index.html', parent: null };
  it('accepts only the app window’s own top frame', () => {
    expect(isTrustedSender({ id: 7 }, top, 7, 'file://')).toBe(true);
    expect(isTrustedSender({ id: 8 }, top, 7, 'file://')).toBe(false); // another window
    expect(isTrustedSender({ id: 7 }, { url: 'file:///app/index.html', parent: {} }, 7, 'file://')).toBe(false); // an iframe
    expect(isTrustedSender({ id: 7 }, { url: 'https://evil.example/', parent: null }, 7, 'file://')).toBe(false); // navigated away
    expect(isTrustedSender({ id: 7 }, null, 7, 'file://')).toBe(false);
    expect(isTrustedSender({ id: 7 }, top, undefined, 'file://')).toBe(false); // no window yet
  });
});

describe('navigation guards', () => {
  it('blocks navigation away from the app, webviews and new windows; opens safe links externally', () => {
    const handlers: Record<string, (e: { preventDefault(): void }, url: string) => void> = {};
    let openHandler: ((d: { url: string }) => { action: 'deny' }) | undefined;
    const contents = {
      on(event: string, l: (e: { preventDefault(): void }, url: string) => void) {
        handlers[event] = l;
        return contents;
      },
      setWindowOpenHandler(h: (d: { url: string }) => { action: 'deny' }) {
        openHandler = h;
      },
    };
    const opened: string[] = [];
    installNavigationGuards(contents as never, 'file://', (u) => opened.push(u));
    const nav = (event: string, url: string) => {
      let prevented = false;
      handlers[event]!({ preventDefault: () => (prevented = true) }, url);
      return prevented;
    };
    expect(nav('will-navigate', 'https://evil.example/')).toBe(true);
    expect(nav('will-redirect', 'https://evil.example/')).toBe(true);
    expect(nav('will-navigate', 'file:///app/index.html#/models')).toBe(false);
    expect(nav('will-attach-webview', '')).toBe(true);
    expect(openHandler!({ url: 'https://github.com/x' })).toEqual({ action: 'deny' });
    expect(openHandler!({ url: 'http://10.1.1.1/' })).toEqual({ action: 'deny' });
    expect(opened).toEqual(['https://github.com/x']);
  });
});
