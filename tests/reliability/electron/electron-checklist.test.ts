import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerSiteIpc } from '../../../src/main/ipc';
import { IPC_CALL, IPC_EVENT } from '../../../src/shared/ipc-channels';
import {
  CONTENT_SECURITY_POLICY,
  installNavigationGuards,
  isAppUrl,
  isSafeExternalUrl,
  isTrustedSender,
  secureWebPreferences,
} from '../../../src/main/security';
import { buildRenderer } from '../../e2e/build-renderer';
import { recordFigures } from '../../helpers/reliability-figures';

/*
 * Electron's security checklist (electronjs.org/docs/latest/tutorial/security), the items that can
 * be checked without the Electron binary: behaviour is executed (security.ts, ipc.ts, the
 * preload with `electron` replaced by a recorder); wiring in main/index.ts, which only runs
 * inside Electron, is read as source.
 */

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const figures = { behaviourChecks: 0, sourceChecks: 0, rendererFilesScanned: 0 };
afterAll(() => recordFigures('access.json', 'electronChecklist', figures));

/** Source without comments (so a comment that mentions `new Function` is not a finding). */
function code(file: string): string {
  return readFileSync(join(repo, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:\\'"`])\/\/.*$/gm, '$1')
    .replace(/\{\/\*[\s\S]*?\*\/\}/g, '');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(repo, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|tsx|js|mjs|cjs|html)$/.test(e.name))
    .map((e) => relative(repo, join(e.parentPath, e.name)));
}

function cspOf(html: string): string {
  const m = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/i.exec(html);
  if (!m) throw new Error('no Content-Security-Policy meta tag');
  return m[1]!;
}

describe('window settings (checklist 2-4, 6, 8-11): executed', () => {
  it('secureWebPreferences has every hardening flag and nothing that weakens them', () => {
    const p = secureWebPreferences('/opt/fgl/preload/index.cjs');
    expect(p).toEqual({
      preload: '/opt/fgl/preload/index.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    });
    // No Blink feature switches, no additional arguments into the renderer.
    expect(p).not.toHaveProperty('enableBlinkFeatures');
    expect(p).not.toHaveProperty('additionalArguments');
    // A fresh object each time: one window's tweaks cannot weaken the next.
    (p as Record<string, unknown>).sandbox = false;
    expect(secureWebPreferences('/x').sandbox).toBe(true);
    figures.behaviourChecks += 4;
  });
});

describe('content security policy (checklist 7): executed against the files', () => {
  it('the CSP allows only the bundle itself: no inline or eval script, no remote origin, no plugins or frames', () => {
    const directives = new Map(
      CONTENT_SECURITY_POLICY.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name!, values] as const;
      }),
    );
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('object-src')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'none'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    for (const [name, values] of directives)
      for (const v of values)
        expect(v, `${name} ${v}`).not.toMatch(
          /^(\*|https?:|ws:|wss:|'unsafe-eval'|'wasm-unsafe-eval'|blob:)/,
        );
    expect(directives.get('script-src')).not.toContain("'unsafe-inline'");
    figures.behaviourChecks += 8;
  });

  it('src/renderer/index.html carries exactly that CSP', () => {
    expect(cspOf(readFileSync(join(repo, 'src/renderer/index.html'), 'utf8'))).toBe(
      CONTENT_SECURITY_POLICY,
    );
    figures.sourceChecks += 1;
  });

  it('the built renderer index.html carries exactly that CSP and loads no inline script', async () => {
    // A fresh build from electron.vite.config.ts (under a second): a stale out/ cannot hide drift.
    const built = await buildRenderer(join(repo, '.fgl-tmp', 'reliability-renderer'));
    const html = readFileSync(join(built, 'index.html'), 'utf8');
    expect(cspOf(html)).toBe(CONTENT_SECURITY_POLICY);
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="\.\/[^"]+"/); // relative: loaded from the app itself
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/\son[a-z]+=/i); // no inline event handlers
    figures.sourceChecks += 3;
  }, 120_000);

  it('the renderer source has no eval, new Function, string timers, or raw HTML injection', () => {
    const files = sourceFiles('src/renderer');
    expect(files.length).toBeGreaterThan(10);
    const banned: [RegExp, string][] = [
      [/\beval\s*\(/, 'eval('],
      [/\bnew\s+Function\s*\(/, 'new Function('],
      [/\bFunction\s*\(\s*['"`]/, 'Function("…")'],
      [/\.innerHTML\b/, 'innerHTML'],
      [/\.outerHTML\s*=/, 'outerHTML ='],
      [/dangerouslySetInnerHTML/, 'dangerouslySetInnerHTML'],
      [/insertAdjacentHTML/, 'insertAdjacentHTML'],
      [/document\.write/, 'document.write'],
      [/\bset(Timeout|Interval)\s*\(\s*['"`]/, 'string timer'],
      [/\bwindow\.open\s*\(/, 'window.open'],
      [/\bsrcdoc\b/i, 'srcdoc'],
    ];
    const hits: string[] = [];
    for (const f of files) {
      const src = code(f);
      for (const [re, name] of banned) if (re.test(src)) hits.push(`${f}: ${name}`);
    }
    figures.rendererFilesScanned = files.length;
    expect(hits).toEqual([]);
    figures.sourceChecks += banned.length;
  });
});

describe('navigation, new windows and links (checklist 12-15): executed', () => {
  type Nav = (e: { preventDefault(): void }, url: string) => void;
  function guarded(appOrigin: string) {
    const handlers: Record<string, Nav> = {};
    let openHandler: ((d: { url: string }) => { action: 'deny' }) | undefined;
    const opened: string[] = [];
    const contents = {
      on(event: string, l: Nav) {
        handlers[event] = l;
        return contents;
      },
      setWindowOpenHandler(h: (d: { url: string }) => { action: 'deny' }) {
        openHandler = h;
      },
    };
    installNavigationGuards(contents as never, appOrigin, (u) => opened.push(u));
    const prevented = (event: string, url: string) => {
      let p = false;
      handlers[event]!({ preventDefault: () => (p = true) }, url);
      return p;
    };
    return { prevented, open: (url: string) => openHandler!({ url }), opened };
  }

  it('every new window is denied; only safe https links reach the system browser', () => {
    const g = guarded('file://');
    const urls = [
      'https://github.com/fgl/fgl',
      'http://example.org/',
      'javascript:alert(1)',
      'file:///etc/passwd',
      'data:text/html,<script>alert(1)</script>',
      'https://user:pw@example.org/',
      'https://10.0.0.5/',
      'https://0x7f000001/',
      'https://2130706433/',
      'https://[::ffff:127.0.0.1]/',
      'smb://fileserver/share',
      'ms-msdt:/id PCWDiagnostic',
      'about:blank',
    ];
    for (const u of urls) expect(g.open(u), u).toEqual({ action: 'deny' });
    expect(g.opened).toEqual(['https://github.com/fgl/fgl']);
    figures.behaviourChecks += urls.length + 1;
  });

  it('navigation away from the app is blocked, for both navigate and redirect, with a dev server origin', () => {
    const g = guarded('http://localhost:5173');
    for (const ev of ['will-navigate', 'will-redirect']) {
      expect(g.prevented(ev, 'https://evil.example/')).toBe(true);
      expect(g.prevented(ev, 'http://localhost:5174/')).toBe(true);
      expect(g.prevented(ev, 'http://localhost:5173.evil.example/')).toBe(true);
      expect(g.prevented(ev, 'file:///etc/passwd')).toBe(true);
      expect(g.prevented(ev, 'javascript:alert(1)')).toBe(true);
      expect(g.prevented(ev, 'http://localhost:5173/#/models')).toBe(false);
    }
    expect(g.prevented('will-attach-webview', '')).toBe(true);
    figures.behaviourChecks += 13;
  });

  it('links to local names written with a trailing dot are not opened', () => {
    // `localhost.`, `printer.local.` and `intranet.` are the same hosts as without the dot.
    for (const u of [
      'https://localhost./',
      'https://printer.local./',
      'https://intranet./',
      'https://db.internal./',
    ])
      expect(isSafeExternalUrl(u), u).toBe(false);
    expect(isSafeExternalUrl('https://example.org./')).toBe(true);
    figures.behaviourChecks += 5;
  });

  it('the packaged app accepts only its own index.html as app URL, not any local file', () => {
    const index = 'file:///opt/FGL/resources/app.asar/out/renderer/index.html';
    expect(isAppUrl(`${index}#/models`, index)).toBe(true);
    expect(isAppUrl('file:///home/user/Downloads/evil.html', index)).toBe(false);
    expect(
      isTrustedSender(
        { id: 1 },
        { url: 'file:///home/user/Downloads/evil.html', parent: null },
        1,
        index,
      ),
    ).toBe(false);
    expect(isTrustedSender({ id: 1 }, { url: index, parent: null }, 1, index)).toBe(true);
    // main/index.ts must pass that exact URL, not the bare 'file://' that matches every local file.
    expect(code('src/main/index.ts')).not.toMatch(/:\s*'file:\/\/'\s*;/);
    figures.behaviourChecks += 5;
  });
});

describe('IPC (checklist 17): executed', () => {
  it('calls from other senders, frames or origins never reach the backend; unknown and prototype method names are refused', async () => {
    const handlers = new Map<string, (e: unknown, m: unknown, r: unknown) => Promise<unknown>>();
    const reached: unknown[] = [];
    registerSiteIpc(
      {
        handle: (ch: string, h: never) => void handlers.set(ch, h),
        removeHandler: (ch: string) => void handlers.delete(ch),
      } as never,
      {
        appWebContentsId: () => 5,
        appOrigin: 'file://',
        backend: { call: async (m) => (reached.push(m), { ok: true, data: null }) },
      },
    );
    expect([...handlers.keys()]).toEqual([IPC_CALL]);
    const h = handlers.get(IPC_CALL)!;
    const top = { url: 'file:///app/index.html', parent: null };
    const untrusted: [unknown, unknown][] = [
      [{ id: 6 }, top],
      [{ id: 5 }, { url: 'file:///app/index.html', parent: { url: 'file:///app/index.html' } }],
      [{ id: 5 }, { url: 'https://evil.example/', parent: null }],
      [{ id: 5 }, null],
      [null, top],
    ];
    for (const [sender, senderFrame] of untrusted)
      expect(await h({ sender, senderFrame }, 'settings.get', {})).toMatchObject({
        ok: false,
        error: { code: 'untrusted_sender' },
      });
    for (const m of [
      'constructor',
      'toString',
      '__proto__',
      'hasOwnProperty',
      'valueOf',
      { toString: () => 'settings.get' },
      ['settings.get'],
      'x'.repeat(10_000),
    ]) {
      const r = (await h({ sender: { id: 5 }, senderFrame: top }, m, {})) as {
        ok: boolean;
        error: { code: string; message: string };
      };
      expect(r).toMatchObject({ ok: false, error: { code: 'unknown_method' } });
      expect(r.error.message.length).toBeLessThan(200);
    }
    expect(reached).toEqual([]);
    expect(await h({ sender: { id: 5 }, senderFrame: top }, 'settings.get', {})).toEqual({
      ok: true,
      data: null,
    });
    figures.behaviourChecks += untrusted.length + 9;
  });
});

describe('preload (checklist 3, 20): executed with electron replaced by a recorder', () => {
  it('exposes one global, `fgl`, holding only call() and on(); no channel, ipcRenderer or Node object leaks', async () => {
    vi.resetModules();
    const exposed: [string, unknown][] = [];
    const invoke = vi.fn(async () => ({ ok: true, data: 1 }));
    vi.doMock('electron', () => ({
      contextBridge: { exposeInMainWorld: (k: string, v: unknown) => void exposed.push([k, v]) },
      ipcRenderer: {
        invoke,
        on: vi.fn(),
        removeListener: vi.fn(),
        send: vi.fn(),
        sendSync: vi.fn(),
      },
    }));
    await import('../../../src/preload/index');
    expect(exposed.map(([k]) => k)).toEqual(['fgl']);
    const api = exposed[0]![1] as Record<string, unknown>;
    expect(Object.keys(api).sort()).toEqual(['call', 'on']);
    for (const v of Object.values(api)) expect(typeof v).toBe('function');
    // Whatever the page passes, the preload invokes only the one call channel.
    await (api.call as (m: unknown, r: unknown) => Promise<unknown>)('fs.readFile', {
      path: '/etc/passwd',
    });
    expect(invoke).toHaveBeenCalledWith(IPC_CALL, 'fs.readFile', { path: '/etc/passwd' });
    vi.doUnmock('electron');
    figures.behaviourChecks += 4;
  });

  it('the preload source imports only electron and shared types, and never sends on a caller-chosen channel', () => {
    const src = code('src/preload/index.ts');
    const imports = [...src.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]);
    expect(imports.every((i) => i === 'electron' || i!.startsWith('../shared/'))).toBe(true);
    expect(src.match(/exposeInMainWorld\(/g)).toHaveLength(1);
    expect(src).not.toMatch(
      /\bprocess\.|\brequire\(|sendSync|ipcRenderer\.send\(|webFrame|\bshell\b/,
    );
    // ipcRenderer is used only with the two fixed channels.
    for (const m of src.matchAll(/ipcRenderer\.(\w+)\(\s*([^,)]+)/g))
      expect([`IPC_CALL`, `IPC_EVENT`]).toContain(m[2]!.trim());
    // …whose names are the one shared definition main registers too.
    expect(src).toMatch(/import \{ IPC_CALL, IPC_EVENT \} from '\.\.\/shared\/ipc-channels';/);
    expect(code('src/shared/ipc-channels.ts')).toContain(`'${IPC_CALL}'`);
    expect(code('src/shared/ipc-channels.ts')).toContain(`'${IPC_EVENT}'`);
    figures.sourceChecks += 6;
  });
});

describe('main process wiring (checklist 4, 5, 12, 13, 15, 17): read as source', () => {
  const main = code('src/main/index.ts');

  it('the only BrowserWindow is created with secureWebPreferences(...) and nothing overrides it', () => {
    const windows = [...main.matchAll(/new\s+BrowserWindow\s*\(/g)];
    expect(windows).toHaveLength(1);
    const opts = main.slice(windows[0]!.index, main.indexOf('});', windows[0]!.index));
    expect(opts).toMatch(/webPreferences:\s*secureWebPreferences\(/);
    expect(opts.match(/webPreferences/g)).toHaveLength(1);
    for (const f of [...sourceFiles('src/main'), ...sourceFiles('src/preload')].filter(
      (f) => !f.endsWith('security.ts'),
    )) {
      const src = code(f);
      expect(src, f).not.toMatch(
        /nodeIntegration\w*\s*:\s*true|contextIsolation\s*:\s*false|sandbox\s*:\s*false|webSecurity\s*:\s*false|allowRunningInsecureContent\s*:\s*true|enableBlinkFeatures|experimentalFeatures\s*:\s*true|webviewTag\s*:\s*true|@electron\/remote|enableRemoteModule/,
      );
    }
    figures.sourceChecks += 4;
  });

  it('permission requests are denied, navigation guards are installed on the window, the CSP header is set', () => {
    expect(main).toMatch(
      /setPermissionRequestHandler\(\s*\([^)]*\)\s*=>\s*(\w+)\(\s*false\s*\)\s*\)/,
    );
    expect(main).toMatch(/installNavigationGuards\(\s*mainWindow\.webContents\s*,/);
    expect(main).toMatch(/'Content-Security-Policy':\s*\[\s*CONTENT_SECURITY_POLICY\s*\]/);
    expect(main).not.toMatch(/setPermissionCheckHandler\([^)]*=>\s*true/);
    figures.sourceChecks += 4;
  });

  it('a single-instance lock is taken before anything starts; the second instance quits', () => {
    const lock = main.search(
      /if\s*\(\s*!app\.requestSingleInstanceLock\(\)\s*\)\s*\{\s*app\.quit\(\)/,
    );
    expect(lock).toBeGreaterThanOrEqual(0);
    expect(main.indexOf('whenReady')).toBeGreaterThan(lock);
    figures.sourceChecks += 2;
  });

  it('shell.openExternal is reached only through isSafeExternalUrl; IPC is registered only through registerSiteIpc', () => {
    const opens = [...main.matchAll(/shell\.openExternal\(/g)];
    expect(opens.length).toBeGreaterThan(0);
    for (const o of opens)
      expect(main.slice(Math.max(0, o.index - 80), o.index)).toMatch(
        /isSafeExternalUrl\(\s*\w+\s*\)\s*\)\s*(void\s*)?$/,
      );
    expect(main).not.toMatch(/ipcMain\.(handle|on|once)\(/);
    expect(main).toMatch(/registerSiteIpc\(\s*ipcMain/);
    // The renderer is the bundled file in production, the dev server only when electron-vite sets it.
    expect(main).toMatch(
      /loadFile\(\s*join\(\s*__dirname\s*,\s*'\.\.\/renderer\/index\.html'\s*\)\s*\)/,
    );
    expect([...main.matchAll(/loadURL\(\s*(\w+)\s*\)/g)].map((m) => m[1])).toEqual(['devServer']);
    figures.sourceChecks += 5;
  });

  it('runs on a supported Electron major (checklist 16)', () => {
    const v = JSON.parse(
      readFileSync(join(repo, 'node_modules/electron/package.json'), 'utf8'),
    ) as { version: string };
    expect(Number(v.version.split('.')[0])).toBeGreaterThanOrEqual(38);
    figures.sourceChecks += 1;
  });
});
