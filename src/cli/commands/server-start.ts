import pino from 'pino';
import { type Command, intOption, optionalString, requireString } from '../command';
import { displayFingerprint } from '../../server/auth/server-signing-key';
import { createServer } from '../../server/create-server';
import type { RoundStages } from '../../server/jobs/round-stages';
import { createLogger } from '../../server/logger';
import { DEFAULT_HOST, DEFAULT_PORT } from '../../server/server-config';
import { resolveServerModels } from './server-models';

/** Builds the synthesis/training stages for a models folder; null until the pipeline is wired. */
export type StagesFactory = (o: {
  dataDir: string;
  modelsDir: string | null;
}) => Promise<RoundStages | null>;

export function makeServerStartCommand(makeStages: StagesFactory = async () => null): Command {
  return {
    path: ['server', 'start'],
    summary: 'run the FGL server (HTTP API, package intake, rounds, signed models)',
    description: `
Starts the server on a data directory. On first start it creates:
  <data>/server.db                 the store (SQLite, WAL)
  <data>/keys/admin.key            the admin key (mode 0600): send it as \`Authorization: Bearer …\`
                                   to the admin endpoints; the \`fgl server\` CLI uses the data dir directly
  <data>/keys/server-ed25519.pem   the key that signs every published model (mode 0600)
Give sites the server key fingerprint (printed below) out of band together with their enrollment
token; they compare it before pinning the key.

Binds 127.0.0.1 by default. To serve other machines put it behind a TLS-terminating reverse proxy
(sites send API keys in headers). Ctrl-C / SIGTERM stop it cleanly; running rounds resume on the
next start. The API is described at /v1/openapi.json.`,
    options: {
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
    ],
    async run(ctx) {
      const dataDir = requireString(ctx, 'data-dir');
      const modelsArg = optionalString(ctx, 'models');
      const models = modelsArg ? await resolveServerModels(dataDir, modelsArg) : null;
      const stages = await makeStages({ dataDir, modelsDir: models?.dir ?? null });
      // Logs go to stderr so stdout carries only the result (--json stays parseable).
      const logger = createLogger({ destination: pino.destination(2) });
      const server = await createServer({
        dataDir,
        host: optionalString(ctx, 'host') ?? DEFAULT_HOST,
        port: intOption(ctx, 'port', DEFAULT_PORT, 0),
        limits: { maxPackageBytes: intOption(ctx, 'max-package-mb', 256, 1) * 1024 * 1024 },
        logger,
        stages,
      });
      const url = await server.start();
      const fp = server.signingKey.fingerprint;
      ctx.out.result(
        {
          url,
          dataDir: server.layout.root,
          adminKeyFile: server.layout.adminKey,
          serverKeyFingerprint: fp,
          models: models?.dir ?? null,
          stagesWired: stages !== null,
        },
        () =>
          [
            `FGL server listening on ${url}`,
            `  data dir         ${server.layout.root}`,
            `  admin key        ${server.layout.adminKey} (keep it secret)`,
            `  key fingerprint  ${displayFingerprint(fp)}`,
            `  models           ${models ? `${models.dir}${models.tiny ? ' (tiny: plumbing only, never accuracy)' : ''}` : 'none given'}`,
            `  rounds           ${stages ? 'synthesis and training wired' : 'can be opened, but synthesis/training are not wired in this build'}`,
            '  API              ' + url + '/v1/openapi.json',
            'Press Ctrl-C to stop.',
          ].join('\n'),
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          ctx.signal.removeEventListener('abort', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        ctx.signal.addEventListener('abort', stop);
        process.on('SIGTERM', stop);
      });
      ctx.out.info('Stopping: finishing requests, pausing rounds (they resume on the next start)…');
      await server.close();
      return 0;
    },
  };
}

export const serverStartCommand: Command = makeServerStartCommand();
