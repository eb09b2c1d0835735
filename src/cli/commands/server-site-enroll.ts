import path from 'node:path';
import { type Command, intOption, requireString, UsageError } from '../command';
import { DEFAULT_TOKEN_TTL_SEC, issueEnrollmentToken } from '../../server/auth/enrollment';
import { displayFingerprint, ensureSigningKey } from '../../server/auth/server-signing-key';
import { readServerTlsCa } from '../../server/tls/server-tls';
import { dataLayout } from '../../server/store/data-layout';
import { ServerStore } from '../../server/store/server-store';

export const serverSiteEnrollCommand: Command = {
  path: ['server', 'site', 'enroll'],
  summary: 'issue a one-time enrollment token for a site',
  description: `
Issues a one-time enrollment token for a site to join a study (stored hashed; shown once).
Hand the site the token AND the server key fingerprint over a channel you trust (phone, signed
mail): the site's app compares the fingerprint before pinning the server's key. The token
expires after --ttl seconds (default 24 h) and works once.`,
  options: {
    'data-dir': { type: 'string', value: 'DIR', description: 'server data directory' },
    study: { type: 'string', value: 'ID', description: 'study id' },
    name: { type: 'string', value: 'SITE', description: 'site name (shown to the coordinator)' },
    ttl: {
      type: 'string',
      value: 'SEC',
      default: String(DEFAULT_TOKEN_TTL_SEC),
      description: 'token lifetime in seconds',
    },
  },
  examples: [
    'fgl server site enroll --data-dir ./server-data --study skin-lesions-3f9a1c --name "General Hospital"',
  ],
  async run(ctx) {
    const dataDir = requireString(ctx, 'data-dir');
    const studyId = requireString(ctx, 'study');
    const siteName = requireString(ctx, 'name').trim();
    const ttlSec = intOption(ctx, 'ttl', DEFAULT_TOKEN_TTL_SEC, 1);
    const layout = dataLayout(dataDir);
    const key = await ensureSigningKey(layout.signingKey);
    const store = ServerStore.open(layout.db);
    try {
      if (!store.getStudy(studyId))
        throw new UsageError(
          `no study "${studyId}" in ${layout.root}`,
          'List studies with GET /v1/studies, or create one with `fgl server study create`.',
        );
      const { token, expiresAt } = issueEnrollmentToken(store, { studyId, siteName, ttlSec });
      // With `fgl server start --tls`, sites also pin the server's own TLS CA.
      const tls = await readServerTlsCa(path.join(layout.root, 'tls'));
      ctx.out.result(
        { token, studyId, siteName, expiresAt, serverKeyFingerprint: key.fingerprint, tlsCaFingerprint: tls?.caFingerprint ?? null },
        () =>
          [
            `Enrollment token for "${siteName}" in study ${studyId} (one use, expires ${expiresAt}):`,
            '',
            `  ${token}`,
            '',
            `Server key fingerprint: ${displayFingerprint(key.fingerprint)}`,
            ...(tls ? [`TLS CA fingerprint:     ${displayFingerprint(tls.caFingerprint)}  (fgl site enroll --expect-ca-fingerprint)`] : []),
            'Give them to the site over a trusted channel; this token is not shown again.',
          ].join('\n'),
      );
    } finally {
      store.close();
    }
  },
};
