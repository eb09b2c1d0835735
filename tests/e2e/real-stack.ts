import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { makeSampleData } from '../../src/cli/sample-data/make-sample-data';
import { readPhraseList, resourcePath } from '../../src/cli/resources';
import { buildStudyManifest } from '../../src/cli/study/build-study';
import { describeModelsFolder } from '../../src/cli/study/models-folder';
import { createServer, type FglServer } from '../../src/server/create-server';
import { createDiffusionStages } from '../../src/server/jobs/diffusion-round-stages';
import {
  EnrollmentTokenResponse,
  PackageList,
  RoundStatus,
  StartRoundResponse,
  type CreateStudyBody,
} from '../../src/shared/server-api';
import { StudyManifest } from '../../src/shared/study';
import { startSiteAgent, type SiteAgent } from '../../src/site/agent/site-agent';
import { createSiteHandlers } from '../../src/site/api/site-handlers';
import { getTinyModels, type TinyModels } from '../helpers/tiny-models';

/** The zero-byte file planted in a class folder, so the scan has something to skip and explain. */
export const BROKEN_FILE = 'broken.png';

export type RealStack = {
  work: string;
  tiny: TinyModels;
  server: FglServer;
  serverUrl: string;
  fingerprint: string;
  study: StudyManifest;
  token: string;
  dataDir: string;
  classes: string[];
  perClass: number;
  /** The class folder holding BROKEN_FILE. */
  brokenClass: string;
  siteHome: string;
  site: ReturnType<typeof createSiteHandlers>;
  agent: SiteAgent;
  admin<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
  packages(): Promise<z.infer<typeof PackageList>>;
  /** Start a round with every package so far and wait until it is published (or fails). */
  runRound(timeoutMs: number): Promise<RoundStatus>;
  close(): Promise<void>;
};

/**
 * The whole real stack on loopback, as a study coordinator and a site operator would set it up:
 * a server with the diffusion stages over the tiny models, a study, an enrollment token, an
 * ImageFolder of sample images (plus one broken file), and the headless site agent backed by
 * the real site handlers serving the built renderer.
 */
export async function startRealStack(o: {
  rendererDir: string;
  classes: number;
  perClass: number;
}): Promise<RealStack> {
  const work = await mkdtemp(join(tmpdir(), 'fgl-e2e-real-'));
  const cleanups: (() => Promise<void> | void)[] = [
    () => rm(work, { recursive: true, force: true }),
  ];
  const close = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const tiny = await getTinyModels();
    const models = await describeModelsFolder(tiny.root);
    const server = await createServer({
      dataDir: join(work, 'server'),
      host: '127.0.0.1',
      port: 0,
      logger: { level: 'warn' },
      stages: createDiffusionStages({
        generatorDir: models.generator.dir,
        clipDir: models.clip.dir,
        device: 'cpu',
        batchSize: 4,
      }),
      // What `fgl server start --models DIR` hands sites: the models they run (issue #15 item 11).
      siteModels: { encoder: models.encoderDir, clip: models.clip.dir, captioner: models.captioner?.dir ?? null },
    });
    cleanups.push(() => server.close());
    const serverUrl = await server.start();
    const adminKey = (await readFile(server.layout.adminKey, 'utf8')).trim();
    const admin = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${serverUrl}/v1/${path}`, {
        method,
        headers: {
          authorization: `Bearer ${adminKey}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`admin ${method} /v1/${path}: HTTP ${res.status} ${text}`);
      return JSON.parse(text) as T;
    };

    const data = await makeSampleData(join(work, 'data'), {
      classes: o.classes,
      perClass: o.perClass,
      seed: 1,
      size: 64,
    });
    const brokenClass = data.classes[0]!;
    await writeFile(join(data.dir, brokenClass, BROKEN_FILE), new Uint8Array(0));

    const manifest = buildStudyManifest({
      name: 'E2E real walkthrough',
      classes: data.classes,
      models,
      k: 3,
      vocabulary: await readPhraseList(resourcePath('vocabulary/shapes.txt')),
    });
    const { id: _id, createdAt: _c, ...body } = manifest;
    const study = StudyManifest.parse(
      await admin('POST', 'studies', body satisfies CreateStudyBody),
    );
    const token = EnrollmentTokenResponse.parse(
      await admin('POST', `studies/${study.id}/enrollment-tokens`, { siteName: 'e2e-site' }),
    ).token;

    const siteHome = join(work, 'site-home');
    const site = createSiteHandlers({
      home: siteHome,
      resolveModels: async (setting) => {
        if (setting !== 'tiny')
          throw new Error(`this test only has the tiny models, not ${setting}`);
        return { ...tiny.dirs, tiny: true };
      },
    });
    cleanups.push(() => site.close());
    const agent = await startSiteAgent({
      handlers: site.handlers,
      rendererDir: o.rendererDir,
      host: '127.0.0.1',
      port: 0,
    });
    cleanups.push(() => agent.close());

    return {
      work,
      tiny,
      server,
      serverUrl,
      fingerprint: server.signingKey.fingerprint,
      study,
      token,
      dataDir: data.dir,
      classes: data.classes,
      perClass: o.perClass,
      brokenClass,
      siteHome,
      site,
      agent,
      admin,
      packages: async () => PackageList.parse(await admin('GET', `studies/${study.id}/packages`)),
      runRound: async (timeoutMs) => {
        const started = StartRoundResponse.parse(
          await admin('POST', `studies/${study.id}/rounds`, { run: true }),
        );
        let status = started.round;
        const deadline = Date.now() + timeoutMs;
        while (status.state !== 'published' && status.state !== 'failed') {
          if (Date.now() > deadline)
            throw new Error(`round ${status.id} still ${status.state} after ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 250));
          status = RoundStatus.parse(await admin('GET', `rounds/${status.id}`));
        }
        return status;
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
