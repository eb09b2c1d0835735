import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStudyManifest } from '../../../src/cli/study/build-study';
import { describeModelsFolder } from '../../../src/cli/study/models-folder';
import { createDiffusionStages } from '../../../src/server/jobs/diffusion-round-stages';
import type { RoundStatus } from '../../../src/shared/server-api';
import type { StudyManifest } from '../../../src/shared/study';
import {
  clientForStudy,
  enrollSite as enrollWithClient,
} from '../../../src/site/client/enroll-site';
import { pullModel } from '../../../src/site/client/pull-model';
import { Ledger } from '../../../src/site/ledger/ledger';
import {
  buildPackage,
  issueToken,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { getTinyModels } from '../../helpers/tiny-models';
import { recordFigures } from '../../helpers/reliability-figures';

/*
 * One whole federation flow on a real server with the real (tiny-model) round stages, its log
 * captured at debug level: enrollment, upload through the site client, bad and revoked keys,
 * a replayed token, a round that synthesizes + trains + publishes, the model pulled and
 * verified. Then every secret issued on the way is looked for in the log and in the server's
 * data files: whole, and as any 12-character piece of its random part.
 */

const PIECE = 12;

/** Every substring of length PIECE of the secret's random part (prefix like `fgl_site_` dropped). */
function pieces(secret: string, randomFrom: number): string[] {
  const random = secret.slice(randomFrom);
  const out: string[] = [];
  for (let i = 0; i + PIECE <= random.length; i++) out.push(random.slice(i, i + PIECE));
  return out;
}

function prefixLength(secret: string): number {
  const m = /^fgl_[a-z]+_/.exec(secret);
  return m ? m[0].length : 0;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

describe('keys and tokens never reach the logs (reliability)', () => {
  let t: TestServer;
  let work: string;
  let ledger: Ledger;
  let study: StudyManifest;
  const secrets: { name: string; value: string; randomFrom: number }[] = [];
  const outcome = { roundState: '', modelVersion: 0, statuses: [] as number[] };

  beforeAll(async () => {
    const tiny = await getTinyModels();
    const models = await describeModelsFolder(tiny.root);
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-secrets-'));
    t = await startTestServer({
      stages: createDiffusionStages({
        generatorDir: tiny.dirs.generator,
        clipDir: tiny.dirs.clip,
        device: 'cpu',
        batchSize: 4,
      }),
    });
    secrets.push({ name: 'admin key', value: t.adminKey, randomFrom: prefixLength(t.adminKey) });
    // The server's Ed25519 private key: its PKCS#8 body after the fixed 16-byte ASN.1 header.
    const pem = await fs.readFile(t.server.layout.signingKey, 'utf8');
    const der64 = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    secrets.push({ name: 'signing key', value: der64, randomFrom: 22 });

    const full = buildStudyManifest({
      name: 'Log hygiene',
      classes: ['cat', 'dog'],
      models,
      k: 3,
      steps: 2,
      imagesPerRow: 2,
    });
    const { id: _id, createdAt: _c, ...body } = full;
    const created = await t.api('POST', '/v1/studies', {
      key: t.adminKey,
      json: { ...body, training: { kind: 'probe', epochs: 3, batchSize: 8 } },
    });
    expect(created.status).toBe(201);
    study = created.json as StudyManifest;

    // Enroll through the site client into a real ledger.
    ledger = Ledger.open(path.join(work, 'site', 'ledger.sqlite'));
    const tok = await issueToken(t, study.id, 'Logged Site');
    secrets.push({
      name: 'enrollment token',
      value: tok.token,
      randomFrom: prefixLength(tok.token),
    });
    const enrolled = await enrollWithClient(ledger, t.url, tok.token, {
      expectFingerprint: t.server.signingKey.fingerprint,
    });
    const apiKey = Buffer.from(ledger.enrollments.list()[0]!.apiKey).toString('utf8');
    secrets.push({ name: 'site API key', value: apiKey, randomFrom: prefixLength(apiKey) });

    // Upload an approved package through the site client.
    const pkgFile = path.join(work, 'package.safetensors');
    await fs.writeFile(
      pkgFile,
      buildPackage(study, enrolled.siteId, { n: 4, labels: [0, 1, 0, 1], counts: [5, 5, 5, 5] }),
    );
    // (The ledger's packages/uploads audit trail is the site's business; the HTTP client is what talks.)
    const up = await clientForStudy(ledger, study.id).client.uploadPackage(study.id, pkgFile);
    expect(up.status).toBe('created');

    // Failures, each with a secret in the request.
    const statuses = outcome.statuses;
    const push = (s: number) => statuses.push(s);
    push((await t.api('POST', '/v1/enroll', { json: { token: tok.token } })).status); // replay → 410
    const badTok = 'fgl_enroll_' + 'Q'.repeat(43);
    push((await t.api('POST', '/v1/enroll', { json: { token: badTok } })).status); // 401
    push((await t.api('GET', '/v1/studies', { key: apiKey + 'x' })).status); // 401
    push((await t.api('GET', '/v1/studies', { key: t.adminKey.slice(0, -2) })).status); // 401
    push(
      (await t.api('GET', '/v1/studies', { headers: { authorization: `Token ${apiKey}` } })).status,
    ); // 401
    push(
      (
        await t.api('GET', '/v1/studies', {
          headers: { authorization: `Bearer ${apiKey} ${t.adminKey}` },
        })
      ).status,
    ); // 401
    push((await t.api('POST', '/v1/studies', { key: apiKey, json: { token: tok.token } })).status); // 403
    // A JSON body that fails validation and echoes nothing back into the log.
    push((await t.api('POST', '/v1/enroll', { json: { token: 42, apiKey } })).status); // 400
    // A second site, then revoked, keeps calling.
    const tok2 = await issueToken(t, study.id, 'Revoked Site');
    secrets.push({ name: 'second token', value: tok2.token, randomFrom: prefixLength(tok2.token) });
    const second = await t.api('POST', '/v1/enroll', { json: { token: tok2.token } });
    const key2 = (second.json as { apiKey: string; siteId: string }).apiKey;
    secrets.push({ name: 'second site key', value: key2, randomFrom: prefixLength(key2) });
    await t.api('POST', `/v1/sites/${(second.json as { siteId: string }).siteId}/revoke`, {
      key: t.adminKey,
    });
    push((await t.api('GET', `/v1/studies/${study.id}/models`, { key: key2 })).status); // 401
    const tok3 = await issueToken(t, study.id, 'Never used');
    secrets.push({ name: 'unused token', value: tok3.token, randomFrom: prefixLength(tok3.token) });

    // The round: synthesis on the tiny generator, probe training, signed model.
    const start = await t.api('POST', `/v1/studies/${study.id}/rounds`, {
      key: t.adminKey,
      json: {},
    });
    expect(start.status).toBe(201);
    const roundId = (start.json as { round: { id: string } }).round.id;
    let round: RoundStatus | undefined;
    for (let i = 0; i < 600; i++) {
      round = (await t.api('GET', `/v1/rounds/${roundId}`, { key: apiKey })).json as RoundStatus;
      if (round.state === 'published' || round.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    outcome.roundState = round?.state ?? 'unknown';
    expect(round?.state, JSON.stringify(round?.error)).toBe('published');

    // The site pulls and verifies the model.
    const pulled = await pullModel(ledger, study.id, {
      modelsRoot: path.join(work, 'site', 'models'),
    });
    outcome.modelVersion = pulled.manifest.version;
    expect(pulled.row.verified).toBe('verified');
  }, 120_000);

  afterAll(async () => {
    ledger?.close();
    await t?.close();
    await fs.rm(work, { recursive: true, force: true });
  });

  it('the flow really ran: requests, failures, round and download are all in the log', () => {
    const all = t.logs.join('');
    expect(outcome.statuses).toEqual([410, 401, 401, 401, 401, 401, 403, 400, 401]);
    expect(t.logs.length).toBeGreaterThan(40);
    for (const marker of [
      'package intake',
      'incoming request',
      'request completed',
      'synthesis finished',
      'training finished',
    ])
      expect(all, marker).toContain(marker);
    expect(all).toMatch(/"statusCode":401/);
    expect(all).toContain('/manifest.sig');
  });

  it('no key, token or private-key material appears in the log, whole or as any 12-character piece', () => {
    const all = t.logs.join('');
    let probes = 0;
    for (const s of secrets) {
      expect(all, s.name).not.toContain(s.value);
      for (const p of pieces(s.value, s.randomFrom)) {
        probes++;
        if (all.includes(p))
          throw new Error(
            `a ${PIECE}-character piece of the ${s.name} is in the server log: …${p}…`,
          );
      }
    }
    expect(all).not.toContain('PRIVATE KEY');
    // The Authorization header is logged, if at all, only as redacted.
    expect(all).not.toMatch(/"authorization":"(?!\[redacted\])/i);
    recordFigures('access.json', 'secretsInLogs', {
      logLines: t.logs.length,
      logBytes: all.length,
      secretsIssued: secrets.length,
      pieceLength: PIECE,
      substringProbes: probes,
      failedRequests: outcome.statuses.length,
      roundState: outcome.roundState,
      modelVersion: outcome.modelVersion,
    });
  });

  it("no key or token is stored in clear in the server's data dir (only admin.key and the signing key file hold one)", async () => {
    const files = await filesUnder(t.dataDir);
    expect(files.length).toBeGreaterThan(5);
    const keyFiles = new Set([t.server.layout.adminKey, t.server.layout.signingKey]);
    for (const f of files) {
      if (keyFiles.has(f)) continue;
      const text = (await fs.readFile(f)).toString('latin1');
      for (const s of secrets)
        expect(text, `${s.name} in ${path.relative(t.dataDir, f)}`).not.toContain(s.value);
    }
    const mode = async (f: string) => (await fs.stat(f)).mode & 0o777;
    expect(await mode(t.server.layout.adminKey)).toBe(0o600);
    expect(await mode(t.server.layout.signingKey)).toBe(0o600);
    expect(await mode(t.server.layout.keysDir)).toBe(0o700);
  });
});
