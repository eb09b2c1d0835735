import { useState, type FormEvent } from 'react';
import type { SiteResponse } from '../../shared/site-api';
import { useApp } from '../app-state';
import { ErrorBox } from '../components/error-box';
import { useCall } from '../components/use-call';
import { groupFingerprint, sameFingerprint } from '../../shared/fingerprint';

/** Enroll this site with a study server and pin the server's signing key. */
export function ConnectScreen() {
  const { client, settings, setSettings, navigate } = useApp();
  const [serverUrl, setServerUrl] = useState(settings?.serverUrl ?? '');
  const [token, setToken] = useState('');
  const [expected, setExpected] = useState('');
  const [expectedCa, setExpectedCa] = useState('');
  const enroll = useCall<SiteResponse<'connect.enroll'>>();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await enroll.run(() =>
      client.call('connect.enroll', {
        serverUrl: serverUrl.trim(),
        token: token.trim(),
        // Checked by the backend before anything is pinned: a mismatch stores nothing.
        ...(expected.trim() ? { expectFingerprint: expected.trim() } : {}),
        ...(expectedCa.trim() ? { expectCaFingerprint: expectedCa.trim() } : {}),
      }),
    );
    if (r) {
      setToken('');
      // The backend pinned the key; reload settings so every screen sees the enrollment.
      const s = await client.call('settings.get', {}).catch(() => null);
      if (s) setSettings(s);
    }
  };

  const result = enroll.data;
  const match =
    result && expected.trim() ? sameFingerprint(result.serverKeyFingerprint, expected) : null;

  return (
    <>
      <p className="lead">
        Your study coordinator gives you the server address, a one-time enrollment token, and — by
        phone or in person — the server key fingerprint. Enrolling pins that key: models signed by
        any other key are refused.
      </p>
      {settings?.serverUrl && !result && (
        <section className="card" aria-labelledby="current-h">
          <h2 id="current-h">Current enrollment</h2>
          <dl className="facts">
            <dt>Server</dt>
            <dd>{settings.serverUrl}</dd>
            <dt>Site id</dt>
            <dd>{settings.siteId ?? '—'}</dd>
            <dt>Pinned key fingerprint</dt>
            <dd className="fingerprint">
              {settings.serverKeyFingerprint
                ? groupFingerprint(settings.serverKeyFingerprint)
                : '—'}
            </dd>
          </dl>
        </section>
      )}
      <form className="card form" onSubmit={(e) => void submit(e)} aria-labelledby="enroll-h">
        <h2 id="enroll-h">{settings?.serverUrl ? 'Enroll in another study or server' : 'Enroll this site'}</h2>
        <label htmlFor="server-url">Server URL</label>
        <input
          id="server-url"
          type="url"
          required
          placeholder="https://fgl.example-hospital.org"
          value={serverUrl}
          onChange={(e) => setServerUrl(e.target.value)}
          autoComplete="url"
        />
        <label htmlFor="enroll-token">Enrollment token</label>
        <input
          id="enroll-token"
          type="password"
          required
          minLength={8}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          autoComplete="off"
          aria-describedby="enroll-token-help"
        />
        <p id="enroll-token-help" className="help">
          Single use; it expires. Not stored.
        </p>
        <label htmlFor="expected-fp">
          Server key fingerprint from your coordinator (recommended: enrollment stops on a
          mismatch, before the token is used, so a typo costs nothing)
        </label>
        <input
          id="expected-fp"
          className="fingerprint-input"
          type="text"
          value={expected}
          onChange={(e) => setExpected(e.target.value)}
          autoComplete="off"
          spellCheck={false}
          placeholder="ab12 cd34 …"
        />
        <label htmlFor="expected-ca-fp">
          TLS CA fingerprint (only for https servers with their own certificate authority)
        </label>
        <input
          id="expected-ca-fp"
          className="fingerprint-input"
          type="text"
          value={expectedCa}
          onChange={(e) => setExpectedCa(e.target.value)}
          autoComplete="off"
          spellCheck={false}
          placeholder="ef56 7890 …"
        />
        <div className="actions">
          <button type="submit" className="primary" disabled={enroll.pending}>
            {enroll.pending ? 'Connecting…' : 'Connect and enroll'}
          </button>
        </div>
      </form>
      <ErrorBox error={enroll.error} title="Enrollment failed" />
      {result && (
        <section className="card" aria-labelledby="pinned-h" data-testid="enroll-result">
          <h2 id="pinned-h">Server key pinned</h2>
          <p>
            Read this fingerprint to your coordinator, or compare it with the one they gave you,
            group by group:
          </p>
          <p className="fingerprint big" data-testid="fingerprint">
            {groupFingerprint(result.serverKeyFingerprint)}
          </p>
          {match === true && (
            <p className="ok" role="status">
              ✓ Matches the fingerprint you entered.
            </p>
          )}
          {match === false && (
            <div className="error-box" role="alert">
              <strong>Does not match the fingerprint you entered.</strong> Someone may be
              impersonating the server. Do not upload anything; call your coordinator, then enroll
              again with a new token.
            </div>
          )}
          <dl className="facts">
            <dt>Site id</dt>
            <dd>{result.siteId}</dd>
            <dt>Studies</dt>
            <dd>{result.studies.length ? result.studies.join(', ') : 'none yet'}</dd>
          </dl>
          <div className="actions">
            <button type="button" onClick={() => navigate('datasets')}>
              Next: choose a dataset
            </button>
          </div>
        </section>
      )}
    </>
  );
}
