import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { AuditEntry } from '../../shared/site-api';
import { useApp } from '../app-state';
import { ErrorBox } from '../components/error-box';
import { useCall } from '../components/use-call';
import { formatBytes, shortHash } from '../format/format-values';

/** Every upload: who approved it, when, where it went, and the exact package hash. */
export function AuditScreen() {
  const { client } = useApp();
  const [search, setSearch] = useState('');
  const list = useCall<AuditEntry[]>();
  const { run } = list;
  const load = useCallback(
    (q: string) =>
      void run(async () => (await client.call('audit.list', q ? { search: q } : {})).entries),
    [client, run],
  );
  useEffect(() => load(''), [load]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    load(search.trim());
  };

  return (
    <>
      <form className="card form search-form" role="search" onSubmit={submit}>
        <label htmlFor="audit-search">Search the audit log</label>
        <div className="inline">
          <input
            id="audit-search"
            type="search"
            maxLength={200}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            placeholder="approver, study, server or sha256"
          />
          <button type="submit">Search</button>
        </div>
      </form>
      <ErrorBox error={list.error} title="Could not read the audit log" />
      {list.data && (
        <section className="card">
          {list.data.length === 0 ? (
            <p>
              {search ? 'No entry matches.' : 'Nothing has been uploaded from this computer yet.'}
            </p>
          ) : (
            <div className="table-scroll">
              <table className="data-table" data-testid="audit-table">
                <caption>
                  {list.data.length} {list.data.length === 1 ? 'entry' : 'entries'}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">time</th>
                    <th scope="col">study</th>
                    <th scope="col">server</th>
                    <th scope="col">approved by</th>
                    <th scope="col" className="num">
                      size
                    </th>
                    <th scope="col">package sha256</th>
                    <th scope="col">status</th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.map((e) => (
                    <tr key={e.id}>
                      <td className="num">{e.id}</td>
                      <td>{e.time}</td>
                      <td>{e.studyId}</td>
                      <td>{e.server}</td>
                      <td>{e.approvers.join(', ')}</td>
                      <td className="num">{formatBytes(e.bytes)}</td>
                      <td>
                        <code title={e.packageSha256}>{shortHash(e.packageSha256)}</code>
                      </td>
                      <td>{e.status}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      )}
    </>
  );
}
