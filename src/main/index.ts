import { app, BrowserWindow, dialog, Menu, safeStorage, session, shell, utilityProcess, ipcMain } from 'electron';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SiteCallResult } from '../shared/site-api';
import { KeyEncryptionKeyStore } from './key-encryption-key-store';
import { registerSiteIpc, sendSiteEvent } from './ipc';
import { createMainRouter } from './main-router';
import { CONTENT_SECURITY_POLICY, devRendererUrl, installNavigationGuards, isSafeExternalUrl, secureWebPreferences } from './security';
import { UtilityBackend, type ChildLike } from './utility-host';

const devServer = devRendererUrl(process.env, app.isPackaged);
// The bundled renderer file itself, not every file:// URL (a downloaded page must not count as the app).
const appOrigin = devServer ? new URL(devServer).origin : pathToFileURL(join(__dirname, '../renderer/index.html')).href;
let mainWindow: BrowserWindow | undefined;

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (mainWindow) {
      if (mainWindow.isMinimized()) mainWindow.restore();
      mainWindow.focus();
    }
  });
  void app.whenReady().then(start);
}

function start(): void {
  const home = process.env.FGL_HOME ?? app.getPath('userData');
  // Packaged builds keep resources/ (PHI names list, vocabularies) beside the asar (electron-builder.yml).
  if (app.isPackaged) process.env.FGL_RESOURCES_DIR ??= join(process.resourcesPath, 'resources');
  const kek = new KeyEncryptionKeyStore(home, safeStorage).loadOrCreate();

  // CSP as a response header too (the dev server), besides the meta tag in index.html.
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, cb) => cb(false));

  const backend = new UtilityBackend(
    () => utilityProcess.fork(join(__dirname, 'site-backend.js'), [], { serviceName: 'FGL site backend' }) as unknown as ChildLike,
    (e) => sendSiteEvent(mainWindow?.webContents, e),
    () => ({ type: 'configure', home, keyEncryptionKey: kek?.toString('base64') ?? null }),
  );
  if (!kek) console.warn('OS encryption (safeStorage) is unavailable: the site API key is kept in the ledger file (owner-only), as the CLI does.');
  backend.start();

  // Native UI lives here: the folder picker (scans only of picked folders) and the confirmation
  // of a new server before the token goes to it; everything else goes to the backend.
  const router = createMainRouter({
    backend,
    ui: {
      async pickFolder() {
        const r = await dialog.showOpenDialog(mainWindow!, { properties: ['openDirectory'] });
        return r.canceled ? null : (r.filePaths[0] ?? null);
      },
      async confirmServer(origin) {
        const r = await dialog.showMessageBox(mainWindow!, {
          type: 'question',
          buttons: ['Enroll', 'Cancel'],
          defaultId: 1,
          cancelId: 1,
          title: 'Enroll with this server?',
          message: `Enroll this site with ${origin}?`,
          detail: 'The enrollment token will be sent to this server, and this site will upload its approved packages there. Continue only if this is the address your study coordinator gave you.',
        });
        return r.response === 0;
      },
    },
    knownServers: async () => {
      const r: SiteCallResult = await backend.call('settings.get', {});
      const url = r.ok ? (r.data as { serverUrl?: unknown }).serverUrl : null;
      return typeof url === 'string' ? [url] : [];
    },
  });
  registerSiteIpc(ipcMain, { appWebContentsId: () => mainWindow?.webContents.id, appOrigin, backend: router, log: (l) => console.warn(l) });

  Menu.setApplicationMenu(
    Menu.buildFromTemplate([
      { role: 'fileMenu' },
      { role: 'editMenu' },
      { role: 'viewMenu' },
      {
        role: 'help',
        submenu: [
          {
            label: 'About FGL',
            click: () =>
              void dialog.showMessageBox({
                type: 'info',
                title: 'About FGL',
                message: `FGL ${app.getVersion()}`,
                detail: 'Federated Generative Learning: only privacy-checked text-conditioning embeddings leave this computer, never images.',
              }),
          },
        ],
      },
    ]),
  );

  mainWindow = new BrowserWindow({
    width: 1280,
    height: 860,
    show: false,
    title: 'FGL',
    webPreferences: secureWebPreferences(join(__dirname, '../preload/index.cjs')),
  });
  installNavigationGuards(mainWindow.webContents, appOrigin, (url) => {
    if (isSafeExternalUrl(url)) void shell.openExternal(url);
  });
  mainWindow.once('ready-to-show', () => mainWindow?.show());
  if (devServer) void mainWindow.loadURL(devServer);
  else void mainWindow.loadFile(join(__dirname, '../renderer/index.html'));

  app.on('window-all-closed', () => app.quit());
  app.on('before-quit', () => backend.stop());
}
