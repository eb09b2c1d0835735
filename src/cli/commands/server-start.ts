import {
  type Command,
  type CommandContext,
  intOption,
  optionalString,
  requireString,
  untilStopped,
  UsageError,
} from '../command';
import { groupFingerprint } from '../../shared/fingerprint';
import { createServer } from '../../server/create-server';
import type { RoundStages } from '../../server/jobs/round-stages';
import { LOG_FORMAT_OPTION, stderrLogger } from '../log-format-option';
import { DEFAULT_HOST, DEFAULT_PORT } from '../../server/server-config';
import type { RateLimitInput } from '../../server/api/rate-limit';
import { resolveServerModels } from './server-models';
import { STORE_OPTION, storeOption } from './server-store-option';

/** `--rate-limit off|N`: N sustained requests/s per site (bursts of 10 N); per address twice that. */
function rateLimitOption(ctx: CommandContext): RateLimitInput | false | undefined {
  const v = optionalString(ctx, 'rate-limit');
  if (v === undefined) return undefined;
  if (v === 'off') return false;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(
      `--rate-limit must be "off" or requests per second per site (> 0), got ${v}`,
    );
  return {
    perSite: { perSecond: n, burst: Math.ceil(10 * n) },
    perIp: { perSecond: 2 * n, burst: Math.ceil(20 * n) },
  };
}

/** Builds the synthesis/training stages for a models folder; null until the pipeline is wired. */
export type StagesFactory = (o: {
  dataDir: string;
  modelsDir: string | null;
  /** redis:// URL: synthesis runs on this queue (`fgl server worker`), not in this process. */
  queueUrl?: string | null;
}) => Promise<RoundStages | null>;

export function makeServerStartCommand(makeStages: StagesFactory = async () => null): Command {
  return {
    path: ['server', 'start'],
    summary: 'run the FGL server (HTTP API, package intake, rounds, signed models)',
    description: `
Starts the server on a data directory. On first start it creates:
  <data>/server.db                 the store (SQLite, WAL), unless --store names a PostgreSQL one
  <data>/keys/admin.key            the admin key (mode 0600): send it as \`Authorization: Bearer …\`
                                   to the admin endpoints; the \`fgl server\` CLI uses the data dir directly
  <data>/keys/server-ed25519.pem   the key that signs every published model (mode 0600)
Give sites the server key fingerprint (printed below) out of band together with their enrollment
token; they compare it before pinning the key.

Binds 127.0.0.1 by default. To serve other machines use --tls, or a TLS-terminating reverse
proxy (sites send API keys in headers; they refuse plain http except on loopback).

--tls serves HTTPS with the server's own CA. On first use it creates, in <data>/tls/ (or --tls-dir):
  ca.key, ca.crt          a private CA (EC P-256, 20 years; key mode 0600)
  server.key, server.crt  a server certificate signed by it for --host, localhost, 127.0.0.1,
                          ::1 and every --tls-hostname (re-issued automatically when it nears
                          expiry or a name is added; the CA stays, so sites keep their pin)
Certificates are made with the system \`openssl\` command. Give sites the TLS CA fingerprint
(printed below) together with the key fingerprint and their token; they pin it at enrollment
and afterwards trust only that CA for this server.

--store postgres://USER@HOST:PORT/DB keeps the store (studies, sites, keys, rounds, models' rows)
in PostgreSQL instead, so several servers — API replicas behind a load balancer — serve the same
studies. The database must exist (createdb); its schema is created and migrated on start, once
however many replicas start together. Every replica needs the same data dir contents (packages,
images, models, keys: a shared filesystem), and the admin commands take the same --store.

Requests are rate-limited per site API key and per client address (429 + Retry-After; the site
client waits and retries). Ctrl-C / SIGTERM stop it cleanly; running rounds resume on the
next start. The API is described at /v1/openapi.json.`,
    options: {
      'log-format': LOG_FORMAT_OPTION,
      'data-dir': {
        type: 'string',
        value: 'DIR',
        description: 'server data directory (created if missing)',
      },
      host: {
        type: 'string',
        value: 'HOST',
        default: DEFAULT_HOST,
        description: 'address to listen on',
      },
      port: {
        type: 'string',
        value: 'PORT',
        default: String(DEFAULT_PORT),
        description: 'TCP port (0 = any free port)',
      },
      models: {
        type: 'string',
        value: 'tiny|DIR',
        description: 'models for synthesis and training (tiny = generated test models)',
      },
      tls: { type: 'boolean', description: "serve HTTPS with the server's own CA (see above)" },
      'tls-dir': {
        type: 'string',
        value: 'DIR',
        description: 'where the CA and server certificate live (default <data>/tls)',
      },
      'tls-hostname': {
        type: 'string',
        value: 'NAME',
        multiple: true,
        description: 'an extra DNS name or IP sites use to reach the server (repeatable)',
      },
      store: STORE_OPTION,
      queue: {
        type: 'string',
        value: 'redis://HOST:PORT',
        description: 'synthesize on a Redis queue with `fgl server worker`s on other machines (docs/scale.md)',
      },
      'rate-limit': {
        type: 'string',
        value: 'off|N',
        description: 'requests/s per site key (bursts of 10 N; per address 2 N); default 30',
      },
      'max-package-mb': {
        type: 'string',
        value: 'MB',
        default: '256',
        description: 'largest accepted package upload, MiB',
      },
    },
    examples: [
      'fgl server start --data-dir ./server-data',
      'fgl server start --data-dir /srv/fgl --host 0.0.0.0 --port 8787 --models /srv/models',
      'fgl server start --data-dir /srv/fgl --host 0.0.0.0 --tls --tls-hostname fgl.example.org',
      'fgl server start --data-dir /srv/fgl --models /srv/models --queue redis://127.0.0.1:6379',
      'fgl server start --data-dir /srv/fgl --store postgres://fgl@db.example.org:5432/fgl',
    ],
    async run(ctx) {
      // Everything the server writes (db, packages, images, models, logs) is for its account only.
      process.umask(0o077);
      const dataDir = requireString(ctx, 'data-dir');
      const modelsArg = optionalString(ctx, 'models');
      const models = modelsArg ? await resolveServerModels(dataDir, modelsArg) : null;
      const storeUrl = storeOption(ctx);
      const queueUrl = optionalString(ctx, 'queue') ?? null;
      if (queueUrl && !models)
        throw new UsageError(
          '--queue needs --models too: the server checks every worker image against its generator and trains itself',
        );
      const stages = await makeStages({ dataDir, modelsDir: models?.dir ?? null, queueUrl });
      // A Redis password in the URL is never printed.
      const queueShown = queueUrl?.replace(/\/\/[^@/]*@/, '//***@') ?? null;
      // Logs go to stderr so stdout carries only the result (--json stays parseable).
      const logger = stderrLogger(ctx);
      const tlsDir = optionalString(ctx, 'tls-dir');
      const hostnames = ([] as unknown[]).concat(ctx.values['tls-hostname'] ?? []).map(String);
      if (!ctx.values.tls && (tlsDir !== undefined || hostnames.length > 0))
        throw new UsageError('--tls-dir and --tls-hostname only apply with --tls');
      const rateLimit = rateLimitOption(ctx);
      const server = await createServer({
        dataDir,
        ...(storeUrl !== undefined ? { store: storeUrl } : {}),
        host: optionalString(ctx, 'host') ?? DEFAULT_HOST,
        port: intOption(ctx, 'port', DEFAULT_PORT, 0),
        limits: { maxPackageBytes: intOption(ctx, 'max-package-mb', 256, 1) * 1024 * 1024 },
        logger,
        stages,
        ...(ctx.values.tls ? { tls: { ...(tlsDir ? { dir: tlsDir } : {}), hostnames } } : {}),
        ...(rateLimit !== undefined ? { rateLimit } : {}),
        // Sites fetch the models they run from here (fgl site models fetch), checked against the study's digests.
        ...(models
          ? { siteModels: { encoder: models.encoderDir, clip: models.clip.dir, captioner: models.captioner?.dir ?? null } }
          : {}),
      });
      const url = await server.start();
      const fp = server.signingKey.fingerprint;
      const tls = server.tls;
      ctx.out.result(
        {
          url,
          dataDir: server.layout.root,
          adminKeyFile: server.layout.adminKey,
          serverKeyFingerprint: fp,
          tlsCaFingerprint: tls?.caFingerprint ?? null,
          tlsNames: tls?.subjectAltNames ?? null,
          models: models?.dir ?? null,
          stagesWired: stages !== null,
          queue: queueShown,
          store: server.store.location,
        },
        () =>
          [
            `FGL server listening on ${url}`,
            `  data dir         ${server.layout.root}`,
            `  store            ${server.store.engine === 'postgres' ? `${server.store.location} (PostgreSQL)` : server.store.location}`,
            `  admin key        ${server.layout.adminKey} (keep it secret)`,
            `  key fingerprint  ${groupFingerprint(fp)}`,
            ...(tls
              ? [
                  `  TLS CA           ${groupFingerprint(tls.caFingerprint)}  (sites pin it: --expect-ca-fingerprint)`,
                  `  TLS names        ${tls.subjectAltNames.join(', ')}`,
                ]
              : [
                  '  TLS              off (plain http: loopback only, or behind a TLS reverse proxy)',
                ]),
            `  models           ${models ? `${models.dir}${models.tiny ? ' (tiny: plumbing only, never accuracy)' : ''}` : 'none given'}`,
            ...(models ? ['  site models      encoder, CLIP, captioner served to enrolled sites (fgl site models fetch)'] : []),
            `  rounds           ${stages ? 'synthesis and training wired' : 'can be opened, but synthesis/training are not wired in this build'}`,
            ...(queueShown ? [`  synthesis queue  ${queueShown} (start workers: fgl server worker)`] : []),
            '  API              ' + url + '/v1/openapi.json',
            'Press Ctrl-C to stop.',
          ].join('\n'),
      );
      await untilStopped(ctx.signal);
      ctx.out.info('Stopping: finishing requests, pausing rounds (they resume on the next start)…');
      await server.close();
      return 0;
    },
  };
}

export const serverStartCommand: Command = makeServerStartCommand();
