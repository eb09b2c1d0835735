import { useCallback, useEffect } from 'react';
import type { AuditEntry, PackageState, PreparedPackage } from '../../shared/site-api';
import { JOB_NAMES } from '../../shared/site-api';
import { useApp } from '../app-state';
import { formatBytes, shortHash } from '../format/format-values';
import { ErrorBox } from './error-box';
import { ProgressView } from './progress-view';
import { useCall } from './use-call';

const STATE_TEXT: Record<PackageState, { text: string; tag: string }> = {
  planned: { text: 'plan — no noise drawn, not approved', tag: 'tag' },
  prepared: { text: 'prepared — not approved', tag: 'tag' },
  approved: { text: 'approved — not sent yet', tag: 'tag tag-warn' },
  uploading: { text: 'uploading', tag: 'tag tag-warn' },
  uploaded: { text: 'uploaded', tag: 'tag tag-ok' },
  failed: { text: 'refused by the server', tag: 'tag tag-blocked' },
};

/**
 * Every package prepared on this site, from the ledger: it survives a reload and a restart.
 * Open one to review or approve it; retry an approved upload that did not go through.
 */
export function PackagesList() {
  const { client, openPackage, navigate, progress } = useApp();
  const list = useCall<PreparedPackage[]>();
  const retry = useCall<AuditEntry>();
  const { run } = list;
  const load = useCallback(() => void run(async () => (await client.call('packages.list', {})).packages), [client, run]);
  useEffect(load, [load]);

  const resume = async (runId: string) => {
    await retry.run(() => client.call('upload.resume', { runId }));
    load();
  };
  const packages = list.data ?? [];
  return (
    <section className="card" aria-labelledby="packages-h" data-testid="packages-list">
      <h2 id="packages-h">Prepared packages</h2>
      <ErrorBox error={list.error} title="Could not list the packages" />
      {list.data && packages.length === 0 && <p>None yet: prepare one on the Prepare screen.</p>}
      {packages.length > 0 && (
        <table className="data-table">
          <thead>
            <tr>
              <th scope="col">prepared</th>
              <th scope="col">study</th>
              <th scope="col" className="num">
                rows
              </th>
              <th scope="col" className="num">
                size
              </th>
              <th scope="col">sha256</th>
              <th scope="col">state</th>
              <th scope="col">
                <span className="visually-hidden">actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {packages.map((p) => (
              <tr key={p.runId} data-testid="package-row">
                <td>{p.createdAt.replace('T', ' ').slice(0, 16)}</td>
                <td>{p.studyId}</td>
                <td className="num">{p.rows}</td>
                <td className="num">{p.bytes === null ? '—' : formatBytes(p.bytes)}</td>
                <td>{p.sha256 === null ? '—' : <code title={p.sha256}>{shortHash(p.sha256, 8)}</code>}</td>
                <td>
                  <span className={STATE_TEXT[p.state].tag} data-testid="package-state">
                    {STATE_TEXT[p.state].text}
                  </span>
                </td>
                <td className="row-actions">
                  <button
                    type="button"
                    onClick={() => {
                      openPackage(p.runId);
                      navigate(p.state === 'prepared' || p.state === 'planned' ? 'preview' : 'approve');
                    }}
                    aria-label={`Open package ${p.sha256 === null ? p.runId : shortHash(p.sha256, 8)}`}
                  >
                    Open
                  </button>
                  {p.state === 'approved' && (
                    <button
                      type="button"
                      className="primary"
                      disabled={retry.pending}
                      onClick={() => void resume(p.runId)}
                      aria-label={`Retry the upload of package ${shortHash(p.sha256 ?? '', 8)}`}
                    >
                      Retry upload
                    </button>
                  )}
                  {retry.pending && p.state === 'approved' && (
                    <ProgressView progress={progress.get(JOB_NAMES.upload(p.runId))} label="Upload progress" />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBox error={retry.error} title="The upload did not go through" />
      {retry.data && (
        <p className="ok" role="status">
          ✓ Uploaded; audit entry #{retry.data.id}.
        </p>
      )}
    </section>
  );
}
