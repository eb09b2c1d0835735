import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { ownerOnlyDir } from '../core/fs/owner-only';
import { ensureAdminKey } from './auth/admin-key';
import { ensureSigningKey, type ServerSigningKey } from './auth/server-signing-key';
import type { ApiDeps } from './api/api-deps';
import { installBodyGuard } from './api/body-guard';
import { enrollRoutes } from './api/enroll-routes';
import { clientErrorHandler, frameworkErrorHandler, installErrorHandlers } from './api/error-handler';
import { modelRoutes } from './api/model-routes';
import { siteModelRoutes, type SiteModelSource } from './api/site-model-routes';
import { packageRoutes } from './api/package-routes';
import { installRateLimit, RateLimitConfig, type RateLimitInput } from './api/rate-limit';
import { callerResolver } from './api/resolve-caller';
import { registerRoutes, type AnyRouteSpec } from './api/route-def';
import { roundRoutes } from './api/round-routes';
import { studyRoutes } from './api/study-routes';
import { systemRoutes } from './api/system-routes';
import { workerRoutes } from './api/worker-routes';
import { RoundRunner } from './jobs/round-runner';
import type { RoundStages } from './jobs/round-stages';
import { createLogger, type LoggerOptions } from './logger';
import { ServerConfig, type ServerConfigInput } from './server-config';
import { dataLayout, type DataLayout } from './store/data-layout';
import { type Clock, systemClock } from '../shared/clock';
import { ServerStore } from './store/server-store';
import { ensureServerTls, type ServerTls } from './tls/server-tls';

export const SERVER_VERSION = '0.1.0';

export type CreateServerOptions = ServerConfigInput & {
  /** A pino logger, or options for one (tests pass a capturing destination). */
  logger?: Logger | LoggerOptions;
  /** Synthesis + training; null/absent = rounds can be opened but not run (said so in responses). */
  stages?: RoundStages | null;
  /** Injected time (tests: token expiry). */
  clock?: Clock;
  /**
   * The store: a `postgres://user@host:port/db` URL (several replicas may share it), or absent
   * for the embedded SQLite file `<data>/server.db`. Files stay in the data dir either way.
   */
  store?: string;
  /**
   * Serve HTTPS with the server's own CA (created once in `dir`, default `<data>/tls`); sites pin
   * the CA fingerprint at enrollment. `hostnames`: extra names/IPs the certificate must cover.
   */
  tls?: { dir?: string; hostnames?: string[] } | null;
  /** Per-site and per-address request limits (api/rate-limit.ts); false turns them off. */
  rateLimit?: RateLimitInput | false;
  /**
   * The site-side models (encoder, CLIP, captioner folders) sites may fetch from this server
   * (GET /v1/studies/:id/site-models): each is offered only for studies whose digest it matches.
   */
  siteModels?: SiteModelSource | null;
};

export type FglServer = {
  app: FastifyInstance;
  store: ServerStore;
  /** The clock the store and the routes take their time from. */
  clock: Clock;
  layout: DataLayout;
  signingKey: ServerSigningKey;
  /** The TLS material when serving HTTPS (its `caFingerprint` is what sites pin), else null. */
  tls: ServerTls | null;
  runner: RoundRunner;
  logger: Logger;
  /** Listen, resume interrupted rounds; resolves to the base URL. */
  start(): Promise<string>;
  /** Stop accepting requests, interrupt rounds (they resume on the next start), close the db. */
  close(): Promise<void>;
  /** Base URL once started (`http://127.0.0.1:8787`), '' before. */
  readonly url: string;
};

function isLogger(l: Logger | LoggerOptions | undefined): l is Logger {
  return l !== undefined && typeof (l as Logger).child === 'function';
}

/**
 * Build the FGL server on a data dir: creates the layout, the admin key and the Ed25519 signing
 * key on first start, opens (and migrates) the store, and registers the /v1 API.
 */
export async function createServer(opts: CreateServerOptions): Promise<FglServer> {
  const config = ServerConfig.parse({
    dataDir: opts.dataDir,
    host: opts.host,
    port: opts.port,
    limits: opts.limits,
  });
  const logger = isLogger(opts.logger) ? opts.logger : createLogger(opts.logger);
  const layout = dataLayout(config.dataDir);
  // Owner-only, also for a data dir an older version created 0755.
  for (const dir of [
    layout.root,
    layout.packagesDir,
    layout.roundsDir,
    layout.modelsDir,
    layout.tmpDir,
    layout.keysDir,
  ])
    await ownerOnlyDir(dir);
  const admin = await ensureAdminKey(layout.adminKey);
  const signingKey = await ensureSigningKey(layout.signingKey);
  if (admin.created) logger.info({ file: layout.adminKey }, 'created admin key');
  if (signingKey.created)
    logger.info(
      { file: layout.signingKey, fingerprint: signingKey.fingerprint },
      'created server signing key',
    );
  // Leftovers of uploads or publishes interrupted by a crash: never referenced by a row.
  await cleanTemp(layout);
  const tls = opts.tls
    ? await ensureServerTls(opts.tls.dir ?? path.join(layout.root, 'tls'), {
        host: config.host,
        hostnames: opts.tls.hostnames ?? [],
      })
    : null;
  if (tls && (tls.created.ca || tls.created.serverCert))
    logger.info(
      {
        dir: tls.dir,
        caFingerprint: tls.caFingerprint,
        reason: tls.created.reason,
        names: tls.subjectAltNames,
      },
      tls.created.ca
        ? 'created TLS CA and server certificate'
        : 'issued a new TLS server certificate',
    );

  const clock = opts.clock ?? systemClock;
  const store = await ServerStore.open(opts.store ?? layout.db, clock, layout.root);
  const runner = new RoundRunner({
    store,
    clock,
    layout,
    signingKey,
    stages: opts.stages ?? null,
    logger,
  });
  const fastifyOptions = {
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.limits.maxJsonBytes,
    // Slow clients: an idle connection, and any request that outlives the longest legitimate
    // upload, is closed. Bodies have their own deadline / minimum rate (api/body-guard.ts).
    connectionTimeout: config.limits.connectionTimeoutMs,
    requestTimeout: config.limits.requestTimeoutMs,
    keepAliveTimeout: config.limits.keepAliveTimeoutMs,
    // Request ids in logs and 5xx messages; no client-supplied ids (they could carry anything).
    requestIdHeader: false as const,
    // Malformed HTTP and unroutable URLs get the same error envelope as everything else.
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
  };
  // With TLS the raw server is an https.Server; routes and hooks only see fastify's request and
  // reply, which are the same for both, so the instance is typed as the plain one.
  const app: FastifyInstance = tls
    ? (Fastify({
        ...fastifyOptions,
        https: { key: tls.keyPem, cert: tls.certChainPem, minVersion: 'TLSv1.2' },
      }) as unknown as FastifyInstance)
    : Fastify(fastifyOptions);
  // Package uploads arrive as a raw stream: intake reads it chunk by chunk with its own size limit.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) =>
    done(null, payload),
  );
  // More connections than this are closed as they arrive: file descriptors stay bounded.
  app.server.maxConnections = config.limits.maxConnections;
  installErrorHandlers(app);
  if (opts.rateLimit !== false)
    installRateLimit(app, RateLimitConfig.parse(opts.rateLimit ?? {}), admin.sha256);
  installBodyGuard(app, config.limits);

  const deps: ApiDeps = {
    store,
    clock,
    layout,
    signingKey,
    runner,
    limits: config.limits,
    version: SERVER_VERSION,
    siteModels: opts.siteModels ?? null,
  };
  const routes: AnyRouteSpec[] = [];
  routes.push(
    ...systemRoutes(deps, () => routes),
    ...studyRoutes(deps),
    ...enrollRoutes(deps),
    ...packageRoutes(deps),
    ...roundRoutes(deps),
    ...modelRoutes(deps),
    ...siteModelRoutes(deps),
    ...(opts.stages?.remote ? workerRoutes(deps, opts.stages.remote) : []),
  );
  registerRoutes(app, routes, callerResolver(store, admin.sha256));

  let url = '';
  let closed = false;
  return {
    app,
    store,
    clock,
    layout,
    signingKey,
    tls,
    runner,
    logger,
    get url() {
      return url;
    },
    async start() {
      const address = await app.listen({ host: config.host, port: config.port });
      url = address;
      const resumed = await runner.resumeRounds();
      logger.info(
        {
          url,
          fingerprint: signingKey.fingerprint,
          ...(tls ? { tlsCaFingerprint: tls.caFingerprint } : {}),
          resumedRounds: resumed.length,
        },
        'fgl server listening',
      );
      return url;
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await runner.close();
      await store.close();
    },
  };
}

async function cleanTemp(layout: DataLayout): Promise<void> {
  await fs.rm(layout.tmpDir, { recursive: true, force: true });
  await ownerOnlyDir(layout.tmpDir);
  for (const name of await fs.readdir(layout.packagesDir)) {
    if (name.startsWith('.') && name.endsWith('.part'))
      await fs.rm(`${layout.packagesDir}/${name}`, { force: true });
  }
}
