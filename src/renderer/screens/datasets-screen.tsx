import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { ScanSummary, SiteApiError } from '../../shared/site-api';
import { useApp } from '../app-state';
import { describeError } from '../api/call-error';
import { ErrorBox } from '../components/error-box';
import { ProgressView } from '../components/progress-view';
import { useCall } from '../components/use-call';
import { JOB_NAMES } from '../../shared/site-api';

/** Error code the backend uses where no native folder picker exists (the browser UI). */
const PICKER_UNAVAILABLE = 'not_available';

function groupSkipped(skipped: ScanSummary['skipped']): [string, ScanSummary['skipped']][] {
  const by = new Map<string, ScanSummary['skipped']>();
  for (const s of skipped) {
    const list = by.get(s.reason);
    if (list) list.push(s);
    else by.set(s.reason, [s]);
  }
  return [...by].sort((a, b) => b[1].length - a[1].length);
}

/** Choose the local image folder and see what is usable, per class, and what is skipped and why. */
export function DatasetsScreen() {
  const {
    client,
    dataDir,
    setDataDir,
    folderPicker,
    setFolderPicker,
    setScan,
    progress,
    clearProgress,
    navigate,
  } = useApp();
  const [dir, setDir] = useState(dataDir);
  const [k, setK] = useState('');
  const [pickError, setPickError] = useState<SiteApiError | null>(null);
  const scan = useCall<ScanSummary>();
  const pathInput = useRef<HTMLInputElement>(null);
  const focusPath = useRef(false);
  // When the picker turns out to be unavailable, put the cursor in the path field that replaces it.
  useEffect(() => {
    if (folderPicker === false && focusPath.current) {
      focusPath.current = false;
      pathInput.current?.focus();
    }
  }, [folderPicker]);

  const choose = async () => {
    setPickError(null);
    try {
      const r = await client.call('datasets.pickFolder', {});
      setFolderPicker(true);
      if (r.path) setDir(r.path);
    } catch (err) {
      const e = describeError(err);
      if (e.code === PICKER_UNAVAILABLE) {
        focusPath.current = true;
        setFolderPicker(false);
      } else setPickError(e);
    }
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const kNum = k.trim() === '' ? undefined : Number(k);
    clearProgress(JOB_NAMES.scan);
    const r = await scan.run(() =>
      client.call('datasets.scan', { dir: dir.trim(), ...(kNum !== undefined ? { k: kNum } : {}) }),
    );
    if (r) {
      setDataDir(r.root);
      setScan(r);
    }
  };

  const result = scan.data;
  const max = result ? Math.max(1, ...result.classes.map((c) => c.count)) : 1;
  const small = new Set(result?.smallClasses.map((c) => c.name));

  return (
    <>
      <p className="lead">
        Choose the folder with your labelled images: one sub-folder per class. The scan only reads;
        it never changes the folder.
      </p>
      <form className="card form" onSubmit={(e) => void submit(e)} aria-labelledby="folder-h">
        <h2 id="folder-h">Image folder</h2>
        {folderPicker === false ? (
          <>
            <label htmlFor="dataset-path">Folder path</label>
            <input
              id="dataset-path"
              ref={pathInput}
              type="text"
              required
              value={dir}
              onChange={(e) => setDir(e.target.value)}
              spellCheck={false}
              placeholder="/data/chest-xray"
              aria-describedby="dataset-path-help"
            />
            <p id="dataset-path-help" className="help">
              There is no folder picker in the browser: type the folder's path as seen on the
              machine running <code>fgl site ui</code>.
            </p>
          </>
        ) : (
          <div className="picker-row">
            <button type="button" onClick={() => void choose()}>
              Choose folder…
            </button>
            <output aria-label="Chosen folder" className="chosen-path">
              {dir || 'No folder chosen'}
            </output>
          </div>
        )}
        <label htmlFor="scan-k">Minimum images per class, k (optional)</label>
        <input
          id="scan-k"
          type="number"
          min={1}
          step={1}
          inputMode="numeric"
          value={k}
          onChange={(e) => setK(e.target.value)}
          aria-describedby="scan-k-help"
          className="narrow"
        />
        <p id="scan-k-help" className="help">
          Classes with fewer usable images are flagged: each outgoing row must stand for at least k
          images.
        </p>
        <div className="actions">
          <button type="submit" className="primary" disabled={scan.pending || dir.trim() === ''}>
            {scan.pending ? 'Scanning…' : 'Scan folder'}
          </button>
        </div>
      </form>
      <ErrorBox error={pickError} title="Could not open the folder picker" />
      {scan.pending && (
        <ProgressView progress={progress.get(JOB_NAMES.scan)} label="Scan progress" />
      )}
      <ErrorBox error={scan.error} title="Scan failed" />
      {result && (
        <>
          <section className="card" aria-labelledby="summary-h" data-testid="scan-summary">
            <h2 id="summary-h">Summary</h2>
            <dl className="facts">
              <dt>Folder</dt>
              <dd>{result.root}</dd>
              <dt>Layout</dt>
              <dd>{result.layout === 'folder' ? 'one folder per class' : 'manifest'}</dd>
              <dt>Usable images</dt>
              <dd data-testid="scan-images">{result.images}</dd>
              <dt>Skipped</dt>
              <dd>{result.skipped.length}</dd>
            </dl>
            <table className="data-table">
              <caption>Usable images per class</caption>
              <thead>
                <tr>
                  <th scope="col">class</th>
                  <th scope="col" className="num">
                    images
                  </th>
                  <th scope="col">
                    <span className="visually-hidden">share</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {result.classes.map((c) => (
                  <tr key={c.name} className={small.has(c.name) ? 'warn-row' : undefined}>
                    <th scope="row">
                      {c.name}
                      {small.has(c.name) && <span className="tag tag-warn">below k</span>}
                    </th>
                    <td className="num">{c.count}</td>
                    <td className="bar-col">
                      <div className="bar-track" aria-hidden="true">
                        <div className="bar-fill" style={{ width: `${(100 * c.count) / max}%` }} />
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {result.smallClasses.length > 0 && (
              <div className="banner banner-warning" role="status">
                <strong>Small classes:</strong>{' '}
                {result.smallClasses.map((c) => `${c.name} (${c.count} < k=${c.k})`).join(', ')}. A
                class row must stand for at least k images: add images, merge these classes, or
                leave them out.
              </div>
            )}
            {result.images === 0 ? (
              <div className="banner banner-warning" role="status" data-testid="no-usable-images">
                <strong>No usable images here.</strong> A package needs images in one sub-folder per
                class{result.skipped.length > 0 ? '; every file found was skipped (reasons below)' : ''}.
                Choose the folder that holds the class folders, or add images, then scan again.
              </div>
            ) : (
              <div className="actions">
                <button type="button" onClick={() => navigate('prepare')}>
                  Next: prepare a package
                </button>
              </div>
            )}
          </section>
          <section className="card" aria-labelledby="skipped-h">
            <h2 id="skipped-h">Skipped files</h2>
            {result.skipped.length === 0 ? (
              <p>None: every file was a usable image.</p>
            ) : (
              groupSkipped(result.skipped).map(([reason, items]) => (
                <details key={reason} className="skipped-group">
                  <summary>
                    {reason.replace(/_/g, ' ')} <span className="count">({items.length})</span>
                  </summary>
                  <ul>
                    {items.map((s) => (
                      <li key={s.path}>
                        <code>{s.path}</code>
                        {s.detail ? ` — ${s.detail}` : ''}
                      </li>
                    ))}
                  </ul>
                </details>
              ))
            )}
          </section>
        </>
      )}
    </>
  );
}
