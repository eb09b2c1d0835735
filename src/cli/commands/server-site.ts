import { type Command, intOption, requireString, UsageError } from '../command';
import { DEFAULT_TOKEN_TTL_SEC, issueEnrollmentToken } from '../../server/auth/enrollment';
import { displayFingerprint, ensureSigningKey } from '../../server/auth/server-signing-key';
import { dataLayout } from '../../server/store/data-layout';
import { ServerStore } from '../../server/store/server-store';

/** Open the server's store for one command; the study (when given) must exist. */
async function withStore<T>(
  dataDir: string,
  fn: (store: ServerStore) => Promise<T> | T,
): Promise<T> {
  const store = ServerStore.open(dataLayout(dataDir).db);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

function requireStudy(store: ServerStore, dataDir: string, studyId: string): void {
  if (!store.getStudy(studyId))
    throw new UsageError(
      `no study "${studyId}" in ${dataDir}`,
      'List studies with GET /v1/studies, or create one with `fgl server study create`.',
    );
}

const dataDirOption = {
  type: 'string',
  value: 'DIR',
  description: 'server data directory',
} as const;

export const serverSiteListCommand: Command = {
  path: ['server', 'site', 'list'],
  summary: "list a study's sites: state, active keys, packages",
  description: `
Lists every site enrolled in a study with its state (active or revoked), how many API keys it
holds, how many packages it uploaded and when the last one arrived. The same list is served to
the admin key at GET /v1/studies/:id/sites.`,
  options: {
    'data-dir': dataDirOption,
    study: { type: 'string', value: 'ID', description: 'study id' },
  },
  examples: ['fgl server site list --data-dir ./server-data --study skin-lesions-3f9a1c'],
  async run(ctx) {
    const dataDir = requireString(ctx, 'data-dir');
    const studyId = requireString(ctx, 'study');
    const sites = await withStore(
      dataDir,
      (store) => (requireStudy(store, dataDir, studyId), store.studySites(studyId)),
    );
    ctx.out.result({ studyId, sites }, () =>
      sites.length === 0
        ? `No sites in study ${studyId} yet: issue a token with \`fgl server site enroll\`.`
        : [
            `Sites of study ${studyId}:`,
            ...sites.map(
              (s) =>
                `  ${s.siteId}  ${s.state.padEnd(7)}  keys ${s.activeKeys}  packages ${s.packages}${s.lastPackageAt ? ` (last ${s.lastPackageAt})` : ''}  "${s.name}"`,
            ),
          ].join('\n'),
    );
  },
};

export const serverSiteRevokeCommand: Command = {
  path: ['server', 'site', 'revoke'],
  summary: 'revoke a site: every API key it holds stops working at once',
  description: `
Revokes a site (a stolen laptop, a site that left the study): each of its API keys is refused
from the next request on (401), in every study. Its packages stay. To let the site back in with
a new key, re-issue a token: \`fgl server site reissue\`.`,
  options: {
    'data-dir': dataDirOption,
    site: { type: 'string', value: 'SITE_ID', description: 'site id (see fgl server site list)' },
  },
  examples: ['fgl server site revoke --data-dir ./server-data --site site-7h2k9x3m'],
  async run(ctx) {
    const dataDir = requireString(ctx, 'data-dir');
    const siteId = requireString(ctx, 'site');
    const res = await withStore(dataDir, (store) => store.revokeSite(siteId));
    if (!res)
      throw new UsageError(
        `no site "${siteId}" in ${dataDir}`,
        'List sites with `fgl server site list --study ID`.',
      );
    ctx.out.result(
      { siteId, ...res },
      () =>
        `Revoked site ${siteId} at ${res.revokedAt}: ${res.keysRevoked} API key(s) stopped working.`,
    );
  },
};

export const serverSiteReissueCommand: Command = {
  path: ['server', 'site', 'reissue'],
  summary: 'issue a new one-time token for a known site (lost key, burned token)',
  description: `
Issues a one-time enrollment token bound to an existing site. When the site redeems it, it keeps
its site id and packages, gets a new API key, its old keys stop working, and a revoked site is
active again. Hand over the token with the server key fingerprint, as for a first enrollment.`,
  options: {
    'data-dir': dataDirOption,
    study: { type: 'string', value: 'ID', description: 'study id' },
    site: { type: 'string', value: 'SITE_ID', description: 'site id (see fgl server site list)' },
    ttl: {
      type: 'string',
      value: 'SEC',
      default: String(DEFAULT_TOKEN_TTL_SEC),
      description: 'token lifetime in seconds',
    },
  },
  examples: [
    'fgl server site reissue --data-dir ./server-data --study skin-lesions-3f9a1c --site site-7h2k9x3m',
  ],
  async run(ctx) {
    const dataDir = requireString(ctx, 'data-dir');
    const studyId = requireString(ctx, 'study');
    const siteId = requireString(ctx, 'site');
    const ttlSec = intOption(ctx, 'ttl', DEFAULT_TOKEN_TTL_SEC, 1);
    const key = await ensureSigningKey(dataLayout(dataDir).signingKey);
    const out = await withStore(dataDir, (store) => {
      requireStudy(store, dataDir, studyId);
      const site = store.studySites(studyId).find((s) => s.siteId === siteId);
      if (!site)
        throw new UsageError(
          `site "${siteId}" is not enrolled in study ${studyId}`,
          'List sites with `fgl server site list --study ID`.',
        );
      return {
        site,
        ...issueEnrollmentToken(store, { studyId, siteName: site.name, ttlSec, siteId }),
      };
    });
    ctx.out.result(
      {
        token: out.token,
        studyId,
        siteId,
        siteName: out.site.name,
        expiresAt: out.expiresAt,
        serverKeyFingerprint: key.fingerprint,
      },
      () =>
        [
          `New enrollment token for site ${siteId} ("${out.site.name}") in study ${studyId} (one use, expires ${out.expiresAt}):`,
          '',
          `  ${out.token}`,
          '',
          `Server key fingerprint: ${displayFingerprint(key.fingerprint)}`,
          "Redeeming it replaces the site's API key; give it to the site over a trusted channel.",
        ].join('\n'),
    );
  },
};
