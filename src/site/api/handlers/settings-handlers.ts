import { loadSettings, saveSettings } from '../site-settings';
import type { HandlerSlice, SiteContext } from './site-context';

/** Settings: the models folder, device and offline mode, plus what the enrollment pinned. */
export function settingsHandlers(c: SiteContext) {
  const current = () => {
    const s = loadSettings(c.home);
    const e = c.ledger.enrollments.list()[0];
    return {
      dataHome: c.home,
      modelsDir: s.modelsDir,
      device: s.device,
      offline: s.offline,
      serverUrl: e?.serverUrl ?? null,
      siteId: e?.siteId ?? null,
      serverKeyFingerprint: e?.serverKeyFingerprint ?? null,
      tinyModels: s.modelsDir === 'tiny',
    };
  };
  return {
    async 'settings.get'() {
      return current();
    },
    async 'settings.update'(req) {
      saveSettings(c.home, { ...loadSettings(c.home), ...req });
      return current();
    },
  } satisfies HandlerSlice<'settings.get' | 'settings.update'>;
}
