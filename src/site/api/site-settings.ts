import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { DeviceChoice } from '../../shared/device';

/** Site preferences kept in $FGL_HOME/settings.json (not secrets: the API key is elsewhere). */
export const StoredSettings = z.object({
  device: DeviceChoice.default('auto'),
  offline: z.boolean().default(true),
  /** 'tiny' or a folder with clip/, captioner/, generator/. */
  modelsDir: z.string().default('tiny'),
});
export type StoredSettings = z.infer<typeof StoredSettings>;

export function loadSettings(home: string): StoredSettings {
  const file = join(home, 'settings.json');
  if (!existsSync(file)) return StoredSettings.parse({});
  try {
    return StoredSettings.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    // A damaged settings file must not lock the operator out; defaults are safe (offline, auto).
    return StoredSettings.parse({});
  }
}

export function saveSettings(home: string, s: StoredSettings): void {
  const file = join(home, 'settings.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(s, null, 2));
  renameSync(`${file}.tmp`, file);
}
