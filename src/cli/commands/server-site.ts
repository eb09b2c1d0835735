import path from 'node:path';
import {
  type Command,
  type CommandContext,
  intOption,
  requireString,
  UsageError,
} from '../command';
import { DEFAULT_TOKEN_TTL_SEC, issueEnrollmentToken } from '../../server/auth/enrollment';
import { groupFingerprint } from '../../shared/fingerprint';
import { ensureSigningKey } from '../../server/auth/server-signing-key';
import { readServerTlsCa } from '../../server/tls/server-tls';
import { dataLayout } from '../../server/store/data-layout';
import type { ServerStore } from '../../server/store/server-store';
import { systemClock } from '../../shared/clock';
import { openCommandStore, STORE_OPTION } from './server-store-option';

/*
 * The coordinator's site commands, run on the server's data dir (also while it serves):
 * enroll (a token for a new site), list, revoke, reissue (a token for a known site).
 */

const dataDirOption = {
  type: 'string',
  value: 'DIR',
  description: 'server data directory',
} as const;
const studyOption = { type: 'string', value: 'ID', description: 'study id' } as const;
const siteOption = {
  type: 'string',
  value: 'SITE_ID',
  description: 'site id (see fgl server site list)',
} as const;
const ttlOption = {
  type: 'string',
  value: 'SEC',
  default: String(DEFAULT_TOKEN_TTL_SEC),
  description: 'token lifetime in seconds',
} as const;

/** Run `fn` on the server's store; with `studyId`, that study must exist. */
async function withStore<T>(
  ctx: CommandContext,
  dataDir: string,
  studyId: string | null,
  fn: (store: ServerStore) => Promise<T> | T,
): Promise<T> {
  const store = await openCommandStore(ctx, dataDir);
  try {
    if (studyId !== null && !(await store.studies.get(studyId)))
      throw new UsageError(
        `no study "${studyId}" in ${dataDir}`,
        'List studies with GET /v1/studies, or create one with `fgl server study create`.',
      );
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * Issue a one-time token (for a new site, or re-issued for `siteId`) and print what the site
 * needs with it: the server key fingerprint and, with `fgl server start --tls`, the TLS CA's.
 */
async function handOutToken(
  ctx: CommandContext,
  a: { dataDir: string; studyId: string; ttlSec: number; site: { name: string } | { id: string } },
): Promise<void> {
  const layout = dataLayout(a.dataDir);
  const key = await ensureSigningKey(layout.signingKey);
  const issued = await withStore(ctx, a.dataDir, a.studyId, async (store) => {
    if ('name' in a.site)
      return {
        siteName: a.site.name,
        siteId: null,
        ...(await issueEnrollmentToken(store, systemClock, {
          studyId: a.studyId,
          siteName: a.site.name,
          ttlSec: a.ttlSec,
        })),
      };
    const id = a.site.id;
    const site = (await store.sites.records(a.studyId)).find((s) => s.siteId === id);
    if (!site)
      throw new UsageError(
        `site "${id}" is not enrolled in study ${a.studyId}`,
        'List sites with `fgl server site list --study ID`.',
      );
    return {
      siteName: site.name,
      siteId: id,
      ...(await issueEnrollmentToken(store, systemClock, {
        studyId: a.studyId,
        siteName: site.name,
        ttlSec: a.ttlSec,
        siteId: id,
      })),
    };
  });
  const tls = await readServerTlsCa(path.join(layout.root, 'tls'));
  const { token, siteName, siteId, expiresAt } = issued;
  ctx.out.result(
    {
      token,
      studyId: a.studyId,
      siteName,
      ...(siteId ? { siteId } : {}),
      expiresAt,
      serverKeyFingerprint: key.fingerprint,
      tlsCaFingerprint: tls?.caFingerprint ?? null,
    },
    () =>
      [
        `${siteId ? `New enrollment token for site ${siteId} ("${siteName}")` : `Enrollment token for "${siteName}"`} in study ${a.studyId} (one use, expires ${expiresAt}):`,
        '',
        `  ${token}`,
        '',
        `Server key fingerprint: ${groupFingerprint(key.fingerprint)}`,
        ...(tls
          ? [
              `TLS CA fingerprint:     ${groupFingerprint(tls.caFingerprint)}  (fgl site enroll --expect-ca-fingerprint)`,
            ]
          : []),
        ...(siteId ? ["Redeeming it replaces the site's API key."] : []),
        'Give them to the site over a trusted channel; this token is not shown again.',
      ].join('\n'),
  );
}

export const serverSiteEnrollCommand: Command = {
  path: ['server', 'site', 'enroll'],
  summary: 'issue a one-time enrollment token for a site',
  description: `
Issues a one-time enrollment token for a site to join a study (stored hashed; shown once).
Hand the site the token AND the server key fingerprint over a channel you trust (phone, signed
mail): the site's app compares the fingerprint before pinning the server's key. The token
expires after --ttl seconds (default 24 h) and works once.`,
  options: {
    'data-dir': dataDirOption,
    store: STORE_OPTION,
    study: studyOption,
    name: { type: 'string', value: 'SITE', description: 'site name (shown to the coordinator)' },
    ttl: ttlOption,
  },
  examples: [
    'fgl server site enroll --data-dir ./server-data --study skin-lesions-3f9a1c --name "General Hospital"',
  ],
  async run(ctx) {
    await handOutToken(ctx, {
      dataDir: requireString(ctx, 'data-dir'),
      studyId: requireString(ctx, 'study'),
      ttlSec: intOption(ctx, 'ttl', DEFAULT_TOKEN_TTL_SEC, 1),
      site: { name: requireString(ctx, 'name').trim() },
    });
  },
};

export const serverSiteListCommand: Command = {
  path: ['server', 'site', 'list'],
  summary: "list a study's sites: state, active keys, packages",
  description: `
Lists every site enrolled in a study with its state (active or revoked), how many API keys it
holds, how many packages it uploaded and when the last one arrived. The same list is served to
the admin key at GET /v1/studies/:id/sites.`,
  options: { 'data-dir': dataDirOption, store: STORE_OPTION, study: studyOption },
  examples: ['fgl server site list --data-dir ./server-data --study skin-lesions-3f9a1c'],
  async run(ctx) {
    const dataDir = requireString(ctx, 'data-dir');
    const studyId = requireString(ctx, 'study');
    const sites = await withStore(ctx, dataDir, studyId, (store) => store.sites.records(studyId));
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
  options: { 'data-dir': dataDirOption, store: STORE_OPTION, site: siteOption },
  examples: ['fgl server site revoke --data-dir ./server-data --site site-7h2k9x3m'],
  async run(ctx) {
    const dataDir = requireString(ctx, 'data-dir');
    const siteId = requireString(ctx, 'site');
    const res = await withStore(ctx, dataDir, null, (store) => store.sites.revoke(siteId));
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
    store: STORE_OPTION,
    study: studyOption,
    site: siteOption,
    ttl: ttlOption,
  },
  examples: [
    'fgl server site reissue --data-dir ./server-data --study skin-lesions-3f9a1c --site site-7h2k9x3m',
  ],
  async run(ctx) {
    await handOutToken(ctx, {
      dataDir: requireString(ctx, 'data-dir'),
      studyId: requireString(ctx, 'study'),
      ttlSec: intOption(ctx, 'ttl', DEFAULT_TOKEN_TTL_SEC, 1),
      site: { id: requireString(ctx, 'site') },
    });
  },
};
