import { useEffect, useState, type FormEvent } from 'react';
import type { AuditEntry, PackagePreview } from '../../shared/site-api';
import { useApp } from '../app-state';
import { ErrorBox } from '../components/error-box';
import { ProgressView } from '../components/progress-view';
import { useCall } from '../components/use-call';
import { JOB_NAMES } from '../../shared/site-api';
import { formatBytes, shortHash } from '../format/format-values';
import { AuditEntryView } from './audit-entry-view';
import { PackagesList } from '../components/packages-list';

/** The explicit, named approval that lets one reviewed package leave, and its audit entry. */
export function ApproveScreen() {
  const { client, runId, finished, settings, progress, navigate } = useApp();
  const preview = useCall<PackagePreview>();
  const upload = useCall<AuditEntry>();
  const { run } = preview;
  const [approver, setApprover] = useState('');
  const [second, setSecond] = useState('');
  const [confirmed, setConfirmed] = useState(false);
  const ready = runId !== null && finished.get(runId)?.ok === true;

  // Reloaded after an approval too: a DP plan becomes the package its approval drew.
  const approvedId = upload.data?.id;
  useEffect(() => {
    if (runId && ready) void run(() => client.call('prepare.preview', { runId }));
  }, [client, run, runId, ready, approvedId]);

  if (!runId || !ready)
    return (
      <>
        <section className="card">
          <p>No package chosen. Open one of the prepared packages below, or prepare one and review its preview first.</p>
          <div className="actions">
            <button type="button" onClick={() => navigate('prepare')}>
              Go to Prepare
            </button>
          </div>
        </section>
        <PackagesList />
      </>
    );

  const p = preview.data;
  const sent = p ? p.rows.length - p.blockedRows : 0;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!confirmed) return;
    await upload.run(() =>
      client.call('upload.approve', {
        runId,
        approver: approver.trim(),
        ...(second.trim() ? { secondApprover: second.trim() } : {}),
        confirm: true,
      }),
    );
  };

  return (
    <>
      <ErrorBox error={preview.error} title="Could not load the package" />
      {p && (
        <section className="card" aria-labelledby="pkg-h">
          <h2 id="pkg-h">{upload.data || p.uploaded ? 'Package sent' : p.plan ? 'Plan to approve' : 'Package to send'}</h2>
          {p.plan && !upload.data && (
            <p data-testid="plan-approval-note">
              Approving draws the differential-privacy noise once and charges ε = {p.epsilon} to
              these images before anything is sent; the package that results is what is uploaded
              and its sha256 is recorded in the audit log.
            </p>
          )}
          <dl className="facts">
            <dt>To</dt>
            <dd>{settings?.serverUrl ?? 'the enrolled server'}</dd>
            <dt>Rows</dt>
            <dd>
              {sent} sent, {p.blockedRows} blocked and left out
            </dd>
            <dt>Size</dt>
            <dd>{p.bytes === null ? 'known once the noise is drawn' : formatBytes(p.bytes)}</dd>
            <dt>sha256</dt>
            <dd>
              {p.sha256 === null ? (
                'recorded in the audit log when the package is written'
              ) : (
                <code title={p.sha256}>{shortHash(p.sha256, 12)}</code>
              )}
            </dd>
          </dl>
          <button type="button" className="link" onClick={() => navigate('preview')}>
            Review the preview again
          </button>
        </section>
      )}
      {p?.uploaded && !upload.data && (
        <section className="card" aria-labelledby="sent-h">
          <h2 id="sent-h">Already uploaded</h2>
          <p>This package was approved and sent before; one approval per package. Nothing more to send.</p>
          <AuditEntryView entry={p.uploaded} />
        </section>
      )}
      {!upload.data && !p?.uploaded && (
        <form className="card form" onSubmit={(e) => void submit(e)} aria-labelledby="approve-h">
          <h2 id="approve-h">Approval</h2>
          <label htmlFor="approver">Your name (approver)</label>
          <input
            id="approver"
            type="text"
            required
            maxLength={200}
            value={approver}
            onChange={(e) => setApprover(e.target.value)}
            autoComplete="name"
          />
          <label htmlFor="second-approver">
            Second approver, e.g. the privacy officer (optional)
          </label>
          <input
            id="second-approver"
            type="text"
            maxLength={200}
            value={second}
            onChange={(e) => setSecond(e.target.value)}
            autoComplete="off"
          />
          <label className="checkbox confirm">
            <input
              type="checkbox"
              checked={confirmed}
              onChange={(e) => setConfirmed(e.target.checked)}
              required
            />{' '}
            {p?.plan
              ? `I have reviewed the plan and approve drawing its noise (ε = ${p.epsilon}) and sending the bins that pass. I understand no images leave, and that this approval is recorded with my name.`
              : `I have reviewed what will leave this computer and approve sending these ${sent} rows. I understand no images leave, and that this approval is recorded with my name.`}
          </label>
          <div className="actions">
            <button
              type="submit"
              className="primary"
              disabled={!confirmed || approver.trim() === '' || upload.pending || !p}
            >
              {upload.pending ? 'Uploading…' : 'Approve and upload'}
            </button>
          </div>
        </form>
      )}
      {upload.pending && (
        <ProgressView progress={progress.get(JOB_NAMES.upload(runId))} label="Upload progress" />
      )}
      <ErrorBox error={upload.error} title="Upload failed" />
      {upload.data && (
        <section className="card" aria-labelledby="done-h" data-testid="audit-result">
          <h2 id="done-h">Uploaded — recorded in the audit log</h2>
          <AuditEntryView entry={upload.data} />
          <div className="actions">
            <button type="button" onClick={() => navigate('audit')}>
              Open the audit log
            </button>
          </div>
        </section>
      )}
      <PackagesList key={upload.data?.id ?? 0} />
    </>
  );
}
