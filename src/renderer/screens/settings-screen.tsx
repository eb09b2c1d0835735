import { useEffect, useState, type FormEvent } from 'react';
import { DEVICE_CHOICES, type DeviceChoice } from '../../shared/device';
import type { Settings } from '../../shared/site-api';
import { useApp } from '../app-state';
import { ErrorBox } from '../components/error-box';
import { useCall } from '../components/use-call';
import { groupFingerprint } from '../../shared/fingerprint';

/** A label for every device of the one list: a device added there must get one here. */
const DEVICE_LABELS: Record<DeviceChoice, string> = {
  auto: 'Automatic (best available GPU, else CPU)',
  cpu: 'CPU',
  cuda: 'NVIDIA CUDA (Linux)',
  dml: 'DirectML (Windows)',
  coreml: 'Core ML (macOS)',
  webgpu: 'WebGPU',
};
const DEVICES = DEVICE_CHOICES.map((value) => ({ value, label: DEVICE_LABELS[value] }));

/** Where things are kept, which device runs the models, and whether the network may be used. */
export function SettingsScreen() {
  const { client, settings, setSettings } = useApp();
  const [device, setDevice] = useState<Settings['device']>('auto');
  const [modelsDir, setModelsDir] = useState('');
  const save = useCall<Settings>();
  const load = useCall<Settings>();
  const { run } = load;

  useEffect(() => {
    void run(() => client.call('settings.get', {})).then((s) => s && setSettings(s));
  }, [client, run, setSettings]);
  useEffect(() => {
    if (settings) {
      setDevice(settings.device);
      setModelsDir(settings.modelsDir);
    }
  }, [settings]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!settings) return;
    const changes = {
      ...(device !== settings.device ? { device } : {}),
      ...(modelsDir.trim() !== settings.modelsDir ? { modelsDir: modelsDir.trim() } : {}),
    };
    const s = await save.run(() => client.call('settings.update', changes));
    if (s) setSettings(s);
  };

  return (
    <>
      <ErrorBox error={load.error} title="Could not read the settings" />
      {settings && (
        <>
          <form className="card form" onSubmit={(e) => void submit(e)} aria-labelledby="settings-h">
            <h2 id="settings-h">Preferences</h2>
            <label htmlFor="set-device">Device for the models</label>
            <select
              id="set-device"
              value={device}
              onChange={(e) => setDevice(e.target.value as Settings['device'])}
            >
              {DEVICES.map((d) => (
                <option key={d.value} value={d.value}>
                  {d.label}
                </option>
              ))}
            </select>
            <label htmlFor="set-models">Models folder</label>
            <input
              id="set-models"
              type="text"
              value={modelsDir}
              onChange={(e) => setModelsDir(e.target.value)}
              spellCheck={false}
              aria-describedby="set-models-help"
            />
            <p id="set-models-help" className="help">
              A folder with clip/, generator/ and optionally captioner/ (e.g. a bundle copied from a
              USB stick), or <code>tiny</code> for generated test models.
            </p>
            <label className="checkbox">
              {/* The app itself never downloads models; saying otherwise would mislead. */}
              <input type="checkbox" checked disabled aria-describedby="set-offline-help" /> Offline
              mode: never fetch models from the internet
            </label>
            <p id="set-offline-help" className="help">
              Always on in the app: models come only from the folder above. Downloading real models
              is a separate, explicit step (<code>FGL_ALLOW_NETWORK=1 npx fgl demo</code> fills the
              model cache; or copy a models folder).
            </p>
            <div className="actions">
              <button type="submit" className="primary" disabled={save.pending}>
                {save.pending ? 'Saving…' : 'Save settings'}
              </button>
            </div>
            {save.data && !save.pending && !save.error && (
              <p className="ok" role="status">
                ✓ Saved.
              </p>
            )}
          </form>
          <ErrorBox error={save.error} title="Could not save" />
          <section className="card" aria-labelledby="where-h">
            <h2 id="where-h">Where things are</h2>
            <dl className="facts">
              <dt>Data location</dt>
              <dd>
                <code>{settings.dataHome}</code>
              </dd>
              <dt>Server</dt>
              <dd>{settings.serverUrl ?? 'not enrolled'}</dd>
              <dt>Site id</dt>
              <dd>{settings.siteId ?? '—'}</dd>
              <dt>Pinned server key</dt>
              <dd className="fingerprint">
                {settings.serverKeyFingerprint
                  ? groupFingerprint(settings.serverKeyFingerprint)
                  : '—'}
              </dd>
              <dt>Models</dt>
              <dd>
                {settings.tinyModels ? 'tiny test models (chance-level results)' : 'real models'}
              </dd>
            </dl>
          </section>
        </>
      )}
    </>
  );
}
