import { type Command, optionalString, requireString, UsageError } from '../command';
import { ensureSigningKey } from '../../server/auth/server-signing-key';
import { newRoundId } from '../../server/api/round-routes';
import { RoundRunner } from '../../server/jobs/round-runner';
import { STAGES_NOT_WIRED } from '../../server/jobs/round-stages';
import { LOG_FORMAT_OPTION, stderrLogger } from '../log-format-option';
import { systemClock } from '../../shared/clock';
import { resolveServerModels } from './server-models';
import type { StagesFactory } from './server-start';
import { dataLayout } from '../../server/store/data-layout';
import { openCommandStore, STORE_OPTION } from './server-store-option';

export function makeServerRoundRunCommand(makeStages: StagesFactory = async () => null): Command {
  return {
    path: ['server', 'round', 'run'],
    summary: "run a study's round: synthesize from the packages, train, sign and publish a model",
    description: `
Opens a round for the study (or continues its open one) and runs it in this process:
collecting → synthesizing → training → published (or failed, with the reason). State and
progress are stored in the data dir, so an interrupted run continues where it stopped, here or
in \`fgl server start\`. Do not run it while a server on the same data dir runs the same round.`,
    options: {
      'log-format': LOG_FORMAT_OPTION,
      'data-dir': { type: 'string', value: 'DIR', description: 'server data directory' },
      store: STORE_OPTION,
      study: { type: 'string', value: 'ID', description: 'study id' },
      models: {
        type: 'string',
        value: 'tiny|DIR',
        description: 'models for synthesis and training',
      },
    },
    examples: [
      'fgl server round run --data-dir ./server-data --study skin-lesions-3f9a1c --models tiny',
    ],
    async run(ctx) {
      const dataDir = requireString(ctx, 'data-dir');
      const studyId = requireString(ctx, 'study');
      const layout = dataLayout(dataDir);
      const modelsArg = optionalString(ctx, 'models');
      const models = modelsArg ? await resolveServerModels(dataDir, modelsArg) : null;
      const stages = await makeStages({ dataDir, modelsDir: models?.dir ?? null });
      const signingKey = await ensureSigningKey(layout.signingKey);
      const store = await openCommandStore(ctx, dataDir);
      const runner = new RoundRunner({
        store,
        clock: systemClock,
        layout,
        signingKey,
        stages,
        logger: stderrLogger(ctx, { level: ctx.out.json ? 'warn' : 'info' }),
      });
      const onAbort = () => void runner.close();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        if (!(await store.studies.get(studyId)))
          throw new UsageError(
            `no study "${studyId}" in ${layout.root}`,
            'Create one with `fgl server study create`.',
          );
        let round = await store.rounds.open(studyId);
        if (!round && (await store.packages.list(studyId)).length === 0)
          throw new UsageError(
            `study "${studyId}" has no packages yet; nothing to synthesize from`,
            'Wait for sites to upload (GET /v1/studies/:id/packages), then run the round.',
          );
        if (!round) {
          await store.rounds.insert(newRoundId(systemClock()), studyId);
          round = (await store.rounds.open(studyId))!;
        }
        if (!runner.available) {
          ctx.out.result({ round, started: false, note: STAGES_NOT_WIRED }, () =>
            [
              `Round ${round.id} is open (${round.state}, ${round.packages} package(s)), but it was NOT run:`,
              `  ${STAGES_NOT_WIRED}.`,
              'Nothing was synthesized, trained or published.',
            ].join('\n'),
          );
          return 3;
        }
        ctx.out.info(`Running round ${round.id} (${round.packages} package(s))…`);
        const done = await runner.run(round.id);
        ctx.out.result({ round: done }, () =>
          done.state === 'published'
            ? `Round ${done.id} published model version ${done.modelVersion} of study ${studyId}.`
            : done.state === 'failed'
              ? `Round ${done.id} failed: ${done.error}`
              : `Round ${done.id} stopped in state ${done.state}; run this command again to continue.`,
        );
        return done.state === 'published' ? 0 : 1;
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
        await runner.close();
        await store.close();
      }
    },
  };
}

export const serverRoundRunCommand: Command = makeServerRoundRunCommand();
