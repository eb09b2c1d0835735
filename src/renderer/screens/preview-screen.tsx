import { useEffect, useState } from 'react';
import type { PackagePreview } from '../../shared/site-api';
import { useApp } from '../app-state';
import { MarkdownView } from '../components/markdown-view';
import { PackagesList } from '../components/packages-list';
import { describeError } from '../api/call-error';
import { ErrorBox } from '../components/error-box';
import { ScatterPlot, type ScatterLocal } from '../components/scatter-plot';
import { TinyModelsBanner } from '../components/tiny-models-banner';
import { useCall } from '../components/use-call';
import { formatBytes, formatPercent, shortHash } from '../format/format-values';

const THUMBNAILS = 12;

/** A few local images, spread over the classes, for the on-screen check only. */
function pickThumbnails(local: readonly ScatterLocal[], n: number): ScatterLocal[] {
  const byClass = new Map<string, ScatterLocal[]>();
  for (const p of local) byClass.set(p.label, [...(byClass.get(p.label) ?? []), p]);
  const out: ScatterLocal[] = [];
  for (let i = 0; out.length < n && [...byClass.values()].some((l) => l.length > i); i++)
    for (const l of byClass.values()) if (l[i] && out.length < n) out.push(l[i]!);
  return out;
}

function Thumbnail({
  runId,
  image,
  onFocus,
}: {
  runId: string;
  image: ScatterLocal;
  onFocus(id: number | null): void;
}) {
  const { client } = useApp();
  const [src, setSrc] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    client.call('images.thumbnail', { runId, imageId: image.imageId }).then(
      (r) => {
        // Only an image data: URL may become an <img> source (the CSP allows data: for images only).
        if (!live) return;
        if (/^data:image\/(png|jpeg|webp|gif);base64,/.test(r.dataUrl)) setSrc(r.dataUrl);
        else setError('not an image');
      },
      (err: unknown) => live && setError(describeError(err).message),
    );
    return () => {
      live = false;
    };
  }, [client, runId, image.imageId]);
  return (
    <li>
      <button
        type="button"
        className="thumb"
        onFocus={() => onFocus(image.imageId)}
        onBlur={() => onFocus(null)}
        onMouseEnter={() => onFocus(image.imageId)}
        onMouseLeave={() => onFocus(null)}
        aria-label={`Local image ${image.imageId}, class ${image.label}: show it on the plot`}
      >
        {src ? (
          <img src={src} alt="" width={96} height={96} />
        ) : (
          <span className="thumb-placeholder">{error ?? 'loading…'}</span>
        )}
        <span className="thumb-label">{image.label}</span>
      </button>
    </li>
  );
}

/** "What will leave this computer": every outgoing row, its checks, and what stays local. */
export function PreviewScreen() {
  const { client, runId, finished, settings, navigate } = useApp();
  const preview = useCall<PackagePreview>();
  const { run } = preview;
  const [highlight, setHighlight] = useState<number | null>(null);
  const ready = runId !== null && finished.get(runId)?.ok === true;

  useEffect(() => {
    if (runId && ready) void run(() => client.call('prepare.preview', { runId }));
  }, [client, run, runId, ready]);

  if (!runId || !ready)
    return (
      <>
        <section className="card">
          <p>
            {runId ? 'The package is still being prepared.' : 'No package chosen.'} Prepare one, or
            open one prepared earlier below; its preview appears here before anything is sent.
          </p>
          <div className="actions">
            <button type="button" onClick={() => navigate('prepare')}>
              Go to Prepare
            </button>
          </div>
        </section>
        {!runId && <PackagesList />}
      </>
    );

  const p = preview.data;
  const classes = p
    ? [...new Set([...p.rows.map((r) => r.label), ...p.projection.local.map((l) => l.label)])]
    : [];
  const sending = p ? p.rows.filter((r) => !r.blocked) : [];
  const outgoing = p
    ? p.projection.outgoing.map(([x, y], i) => ({
        x,
        y,
        label: p.rows[i]?.label ?? '',
        blocked: p.rows[i]?.blocked ?? false,
      }))
    : [];

  return (
    <>
      <ErrorBox error={preview.error} title="Could not load the preview" />
      {preview.pending && !p && <p role="status">Loading the preview…</p>}
      {p && (
        <>
          {p.tinyModels && !settings?.tinyModels && <TinyModelsBanner />}
          {p.plan && (
            <section className="card notice" aria-labelledby="plan-h" data-testid="plan-notice">
              <h2 id="plan-h">A plan — no noise drawn, no ε charged</h2>
              <p>
                With differential privacy this preview is a plan: the rows are the study’s public
                bins with their exact counts (shown here only). Nothing that could leave exists yet.
                When you approve it, the noise is drawn once, ε = {p.epsilon} is charged (saved
                before anything is sent), the package is written and its sha256 goes into the audit
                log. Approving it again sends that same package; fresh noise is never free.
              </p>
            </section>
          )}
          <section className="card" aria-labelledby="leave-h">
            <h2 id="leave-h">Summary</h2>
            <dl className="facts" data-testid="preview-facts">
              <dt>{p.plan ? 'Rows that may be sent (bins)' : 'Rows to send'}</dt>
              <dd data-testid="rows-sent">{sending.length}</dd>
              <dt>Rows blocked (not sent)</dt>
              <dd data-testid="rows-blocked">{p.blockedRows}</dd>
              <dt>Images represented</dt>
              <dd>{sending.reduce((a, r) => a + r.images, 0)}</dd>
              <dt>Total size</dt>
              <dd data-testid="bytes">
                {p.bytes === null
                  ? 'known once approved (the bins whose noisy count passes)'
                  : `${formatBytes(p.bytes)} (${p.bytes.toLocaleString('en')} bytes)`}
              </dd>
              <dt>Contents</dt>
              <dd>
                conditioning [{p.dims.rows} × {p.dims.tokens} × {p.dims.dim}] {p.dims.dtype},
                labels, counts — no images, no file names
              </dd>
              <dt>Differential privacy</dt>
              <dd>{p.epsilon === null ? 'not used' : `ε = ${p.epsilon}`}</dd>
              <dt>Caption redactions</dt>
              <dd>{p.redactions}</dd>
              <dt>Package sha256</dt>
              <dd>
                {p.sha256 === null ? (
                  'none yet: the package is written on approval'
                ) : (
                  <code title={p.sha256}>{shortHash(p.sha256, 12)}</code>
                )}
              </dd>
            </dl>
          </section>
          <section className="card" aria-labelledby="rows-h">
            <h2 id="rows-h">Outgoing rows</h2>
            <div className="table-scroll">
              <table className="data-table rows-table">
                <caption className="visually-hidden">One row per outgoing embedding</caption>
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">class</th>
                    <th scope="col">prompt</th>
                    <th scope="col" className="num">
                      images
                    </th>
                    <th scope="col">privacy checks</th>
                    <th scope="col">status</th>
                  </tr>
                </thead>
                <tbody>
                  {p.rows.map((r) => {
                    const failed = r.checks.filter((c) => !c.passed);
                    return (
                      <tr
                        key={r.index}
                        className={r.blocked ? 'blocked-row' : undefined}
                        data-testid="outgoing-row"
                      >
                        <td className="num">{r.index}</td>
                        <th scope="row">{r.label}</th>
                        <td>
                          {r.prompt ??
                            (r.prompts.length > 1 ? (
                              <details>
                                <summary>mean of {r.prompts.length} prompts</summary>
                                <ul className="checks">
                                  {r.prompts.map((p) => (
                                    <li key={p}>{p}</li>
                                  ))}
                                </ul>
                              </details>
                            ) : (
                              <span className="muted">(no text: class embedding)</span>
                            ))}
                        </td>
                        <td className="num">{r.images}</td>
                        <td>
                          <ul className="checks">
                            {r.checks.map((c) => (
                              <li key={c.name} className={c.passed ? 'check-pass' : 'check-fail'}>
                                <span aria-hidden="true">{c.passed ? '✓' : '✗'}</span>{' '}
                                <span className="visually-hidden">
                                  {c.passed ? 'passed' : 'failed'}
                                </span>
                                <strong>{c.name}</strong> <span className="muted">{c.detail}</span>
                              </li>
                            ))}
                          </ul>
                        </td>
                        <td>
                          {r.blocked ? (
                            <span
                              className="tag tag-blocked"
                              title={failed.map((c) => c.detail).join('; ')}
                            >
                              Blocked — not sent
                              {failed.length ? `: ${failed.map((c) => c.name).join(', ')}` : ''}
                            </span>
                          ) : (
                            <span className="tag tag-ok">Will be sent</span>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          </section>
          <section className="card" aria-labelledby="plot-h">
            <h2 id="plot-h">Outgoing rows against your local images</h2>
            <p className="help">
              Each outgoing row should sit among many local images; a row sitting on a single image
              would single it out. Projection of CLIP space to two dimensions;{' '}
              {formatPercent(p.rows.length ? sending.length / p.rows.length : null, 0)} of rows
              pass.
            </p>
            <ScatterPlot
              local={p.projection.local}
              outgoing={outgoing}
              classes={classes}
              highlightImageId={highlight}
            />
          </section>
          <section className="card" aria-labelledby="thumbs-h">
            <h2 id="thumbs-h">Some of your local images</h2>
            <p className="help">
              <strong>Shown on this computer only</strong> — thumbnails are never uploaded. Focus
              one to find it on the plot.
            </p>
            <ul className="thumbs">
              {pickThumbnails(p.projection.local, THUMBNAILS).map((img) => (
                <Thumbnail key={img.imageId} runId={runId} image={img} onFocus={setHighlight} />
              ))}
            </ul>
          </section>
          <section className="card" aria-labelledby="report-h">
            <h2 id="report-h">Privacy report</h2>
            <MarkdownView markdown={p.reportMarkdown} label="Privacy report" />
          </section>
          <div className="actions">
            <button
              type="button"
              className="primary"
              onClick={() => navigate('approve')}
              disabled={sending.length === 0}
            >
              {sending.length === 0
                ? 'Nothing to send: every row is blocked'
                : 'Next: approve and upload'}
            </button>
          </div>
        </>
      )}
    </>
  );
}
