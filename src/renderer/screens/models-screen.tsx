import { useCallback, useEffect, useState } from 'react';
import type { SiteModel } from '../../shared/site-api';
import { useApp } from '../app-state';
import { ErrorBox } from '../components/error-box';
import { ProgressView } from '../components/progress-view';
import { useCall } from '../components/use-call';
import { JOB_NAMES } from '../../shared/site-api';
import { SiteModelsCard } from './site-models-card';
import { StudySelect } from './study-select';
import { useStudies } from './use-studies';

function Verification({ m }: { m: SiteModel }) {
  if (!m.downloaded) return <span className="muted">not downloaded</span>;
  if (m.verified === true) return <span className="tag tag-ok">✓ signature verified</span>;
  if (m.verified === false) return <span className="tag tag-blocked">✗ verification failed</span>;
  return <span className="muted">not checked</span>;
}

/** Published model versions for a study: download one and check it was signed by the pinned key. */
export function ModelsScreen() {
  const { client, studyId, progress, clearProgress, navigate } = useApp();
  const studies = useStudies();
  const list = useCall<SiteModel[]>();
  const pull = useCall<SiteModel>();
  const [pulling, setPulling] = useState<number | 'latest' | null>(null);
  const { run } = list;

  const refresh = useCallback(() => {
    if (studyId) void run(async () => (await client.call('models.list', { studyId })).models);
  }, [client, run, studyId]);
  useEffect(refresh, [refresh]);

  const doPull = async (version?: number) => {
    setPulling(version ?? 'latest');
    clearProgress(JOB_NAMES.pull(studyId));
    await pull.run(() =>
      client.call('models.pull', { studyId, ...(version !== undefined ? { version } : {}) }),
    );
    setPulling(null);
    refresh();
  };

  return (
    <>
      <p className="lead">
        Models are checked against the server key pinned at enrollment before they are used.
        Downloading is the only network access here.
      </p>
      <section className="card form" aria-labelledby="models-h">
        <h2 id="models-h">Model versions</h2>
        <StudySelect studies={studies.data} id="models-study" />
        <div className="actions">
          <button type="button" onClick={() => void doPull()} disabled={!studyId || pull.pending}>
            Download latest version
          </button>
          <button type="button" onClick={refresh} disabled={!studyId || list.pending}>
            Refresh
          </button>
        </div>
      </section>
      <ErrorBox error={studies.error} title="Could not list studies" />
      <ErrorBox error={list.error} title="Could not list models" />
      {pull.pending && (
        <section className="card" aria-label="Download progress">
          <p>Downloading {pulling === 'latest' ? 'the latest version' : `version ${pulling}`}…</p>
          <ProgressView
            progress={progress.get(JOB_NAMES.pull(studyId))}
            label="Download progress"
          />
        </section>
      )}
      <ErrorBox error={pull.error} title="Download failed" />
      {pull.data && !pull.pending && (
        <p className={pull.data.verified ? 'ok' : 'error-text'} role="status">
          Version {pull.data.version}:{' '}
          {pull.data.verification ?? (pull.data.verified ? 'verified' : 'not verified')}
        </p>
      )}
      {list.data && (
        <section className="card">
          {list.data.length === 0 ? (
            <p>No model published for this study yet.</p>
          ) : (
            <table className="data-table" data-testid="models-table">
              <caption className="visually-hidden">Model versions</caption>
              <thead>
                <tr>
                  <th scope="col">version</th>
                  <th scope="col">downloaded</th>
                  <th scope="col">verification</th>
                  <th scope="col">details</th>
                  <th scope="col">
                    <span className="visually-hidden">actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.map((m) => (
                  <tr key={m.version}>
                    <th scope="row">v{m.version}</th>
                    <td>{m.downloaded ? 'yes' : 'no'}</td>
                    <td>
                      <Verification m={m} />
                    </td>
                    <td className="muted">{m.verification ?? ''}</td>
                    <td>
                      {m.downloaded && m.verified ? (
                        <button type="button" onClick={() => navigate('evaluate')}>
                          Evaluate v{m.version}
                        </button>
                      ) : (
                        <button
                          type="button"
                          onClick={() => void doPull(m.version)}
                          disabled={pull.pending}
                          aria-label={`Download version ${m.version}`}
                        >
                          Download
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
      <SiteModelsCard />
    </>
  );
}
