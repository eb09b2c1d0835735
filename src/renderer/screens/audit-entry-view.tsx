import type { AuditEntry } from '../../shared/site-api';
import { formatBytes } from '../format/format-values';

/** One audit-log entry as a definition list. */
export function AuditEntryView({ entry }: { entry: AuditEntry }) {
  return (
    <dl className="facts">
      <dt>Entry</dt>
      <dd>#{entry.id}</dd>
      <dt>Time</dt>
      <dd>{entry.time}</dd>
      <dt>Status</dt>
      <dd>{entry.status}</dd>
      <dt>Server</dt>
      <dd>{entry.server}</dd>
      <dt>Study</dt>
      <dd>{entry.studyId}</dd>
      <dt>Approved by</dt>
      <dd>{entry.approvers.join(', ')}</dd>
      <dt>Size</dt>
      <dd>
        {formatBytes(entry.bytes)} ({entry.bytes.toLocaleString('en')} bytes)
      </dd>
      <dt>Package sha256</dt>
      <dd>
        <code className="break">{entry.packageSha256}</code>
      </dd>
    </dl>
  );
}
