/**
 * Entry of the site backend's utility process (Electron `utilityProcess.fork`): the pipeline,
 * evaluation and the ledger run here, never in main or the renderer. Main relays typed
 * messages (src/shared/backend-protocol.ts); a crash here is survivable (main restarts it).
 */
import { join, resolve } from 'node:path';
import type { FromBackend, ToBackend } from '../shared/backend-protocol';
import { hasSiteModels, locateModelsFolder } from '../core/models/model-folders';
import { createSiteHandlers, SiteApiFailure } from '../site/api/site-handlers';
import { dispatchSiteCall } from '../site/api/dispatch-site-call';
import { aesVault, plainVault } from '../site/client/site-key-vault';

type ParentPort = { on(event: 'message', l: (e: { data: ToBackend }) => void): void; postMessage(m: FromBackend): void };
const port = (process as unknown as { parentPort: ParentPort }).parentPort;

/** `tiny` = the generated tiny models under <home>/models/fgl-tiny; otherwise a folder with clip/ and generator/. */
function resolveModelsFor(home: string) {
  return async (setting: string) => {
    const dir = setting === 'tiny' ? join(home, 'models', 'fgl-tiny') : resolve(setting);
    if (!hasSiteModels(dir))
      throw new SiteApiFailure(
        'models_missing',
        `No models in ${dir}: it needs clip/ and encoder/ or generator/ (and optionally captioner/).`,
        setting === 'tiny' ? `Generate test models with \`npx fgl models make-tiny --out ${dir}\`, or choose a real models folder in Settings.` : 'Get the models from the study server (Models → Get site models), import a folder, or choose another folder in Settings.',
      );
    return locateModelsFolder(dir);
  };
}

let backend: ReturnType<typeof createSiteHandlers> | undefined;
const running = new Map<number, AbortController>();

port.on('message', ({ data: m }) => {
  if (m.type === 'configure') {
    backend?.close();
    const vault = m.keyEncryptionKey ? aesVault(Buffer.from(m.keyEncryptionKey, 'base64')) : plainVault;
    backend = createSiteHandlers({ home: m.home, resolveModels: resolveModelsFor(m.home), vault });
    port.postMessage({ type: 'ready' });
  } else if (m.type === 'cancel') {
    running.get(m.id)?.abort(new Error('cancelled'));
  } else if (m.type === 'call') {
    if (!backend) return port.postMessage({ type: 'result', id: m.id, result: { ok: false, error: { code: 'backend_unavailable', message: 'The backend is not configured yet.' } } });
    const ac = new AbortController();
    running.set(m.id, ac);
    void dispatchSiteCall(backend.handlers, m.method, m.req, { signal: ac.signal, emit: (event) => port.postMessage({ type: 'event', event }) }).then(({ result }) => {
      running.delete(m.id);
      port.postMessage({ type: 'result', id: m.id, result });
    });
  }
});
