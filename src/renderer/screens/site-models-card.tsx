import { useState } from 'react';
import type { SiteModelsInstall } from '../../shared/site-model-bundle';
import { JOB_NAMES } from '../../shared/site-api';
import { useApp } from '../app-state';
import { ErrorBox } from '../components/error-box';
import { ProgressView } from '../components/progress-view';
import { useCall } from '../components/use-call';
import { formatBytes, shortHash } from '../format/format-values';

const SOURCE_TEXT: Record<SiteModelsInstall['models'][number]['source'], string> = {
  already: 'already installed, verified',
  fetched: 'downloaded, every file checked by sha256',
  imported: 'copied, every file checked by sha256',
};

/**
 * The models this site runs (conditioning encoder, CLIP, captioner): from the study server — the
 * one host a hospital firewall usually lets the site reach — or from a folder / USB stick, each
 * checked against the study's digests before it is installed.
 */
export function SiteModelsCard() {
  const { client, studyId, settings, setSettings, progress, clearProgress } = useApp();
  const install = useCall<SiteModelsInstall>();
  const use = useCall<unknown>();
  const [importDir, setImportDir] = useState('');
  const [how, setHow] = useState<'fetch' | 'import' | null>(null);
  const job = JOB_NAMES.siteModels(studyId);

  const start = async (kind: 'fetch' | 'import') => {
    setHow(kind);
    clearProgress(job);
    await install.run(() =>
      kind === 'fetch'
        ? client.call('models.siteFetch', { studyId })
        : client.call('models.siteImport', { studyId, dir: importDir.trim() }),
    );
  };
  const r = install.data;
  const inUse = r !== null && r !== undefined && settings?.modelsDir === r.dir;

  return (
    <>
      <section className="card form" aria-labelledby="site-models-h">
        <h2 id="site-models-h">Models this site runs</h2>
        <p className="muted">
          The conditioning encoder, CLIP and captioner the study names, byte for byte. They come
          from the study server (no other host is contacted) or from a folder such as a USB stick;
          every file is checked against the study’s digests before it is installed.
        </p>
        <div className="actions">
          <button type="button" className="primary" onClick={() => void start('fetch')} disabled={!studyId || install.pending}>
            Get models from the study server
          </button>
        </div>
        <label htmlFor="site-models-dir">Or import from a folder (USB stick, shared drive)</label>
        <input
          id="site-models-dir"
          type="text"
          value={importDir}
          onChange={(e) => setImportDir(e.target.value)}
          spellCheck={false}
          placeholder="/media/usb/fgl-models"
        />
        <div className="actions">
          <button type="button" onClick={() => void start('import')} disabled={!studyId || install.pending || importDir.trim() === ''}>
            Import from folder
          </button>
        </div>
      </section>
      {install.pending && (
        <section className="card" aria-label="Site models progress">
          <p>{how === 'fetch' ? 'Downloading from the study server…' : 'Copying and checking…'}</p>
          <ProgressView progress={progress.get(job)} label="Site models progress" bytes />
        </section>
      )}
      <ErrorBox error={install.error} title={how === 'fetch' ? 'Could not get the models' : 'Could not import the models'} />
      {r && !install.pending && (
        <section className="card" aria-labelledby="site-models-done-h">
          <h2 id="site-models-done-h">Installed in {r.dir}</h2>
          <p className="ok" role="status">
            {r.models.length} models verified against study {r.studyId}
            {r.bytes > 0 ? ` (${formatBytes(r.bytes)} ${how === 'fetch' ? 'downloaded' : 'copied'})` : ' (nothing new to transfer)'}.
          </p>
          <table className="data-table" data-testid="site-models-table">
            <caption className="visually-hidden">Site models</caption>
            <thead>
              <tr>
                <th scope="col">model</th>
                <th scope="col">id</th>
                <th scope="col">sha256</th>
                <th scope="col">size</th>
                <th scope="col">status</th>
              </tr>
            </thead>
            <tbody>
              {r.models.map((m) => (
                <tr key={m.role}>
                  <th scope="row">{m.role}</th>
                  <td>{m.id}</td>
                  <td title={m.sha256}>
                    <code>{shortHash(m.sha256)}</code>
                  </td>
                  <td>
                    {formatBytes(m.bytes)} in {m.files} files
                  </td>
                  <td>{SOURCE_TEXT[m.source]}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="actions">
            {inUse ? (
              <p className="muted">Settings → models folder already points here.</p>
            ) : (
              <button
                type="button"
                onClick={() =>
                  void use.run(async () => {
                    const s = await client.call('settings.update', { modelsDir: r.dir });
                    setSettings(s);
                    return s;
                  })
                }
                disabled={use.pending}
              >
                Use these models for preparing packages
              </button>
            )}
          </div>
          <ErrorBox error={use.error} title="Could not change the models folder" />
        </section>
      )}
    </>
  );
}
