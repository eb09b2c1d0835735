import { type Command, optionalString, requireString, UsageError } from '../command';
import type { RoundStatus } from '../../shared/server-api';
import type { WorkerRoundProgress } from '../../server/store/server-store';
import { openCommandStore, STORE_OPTION } from './server-store-option';

function duration(sec: number | null): string {
  if (sec === null) return '—';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The round's ETA if every worker keeps its pace: remaining / Σ worker rates; null without rates. */
export function workersEta(
  remaining: number,
  workers: readonly WorkerRoundProgress[],
): number | null {
  const rate = workers.reduce((s, w) => s + (w.ratePerSec ?? 0), 0);
  return rate > 0 ? remaining / rate : null;
}

export const serverRoundStatusCommand: Command = {
  path: ['server', 'round', 'status'],
  summary: "a round's state, progress and ETA, and what each synthesis worker delivered",
  description: `
Reads the server's store (safe while the server runs): the round's state, the current stage's
progress (done / total, rate, ETA), and — for rounds synthesized on a queue — one line per
worker: images stored (each counted once, repeats are not), batches, rate and when it last
delivered. Give --round, or --study for the study's latest round.`,
  options: {
    'data-dir': { type: 'string', value: 'DIR', description: 'server data directory' },
    store: STORE_OPTION,
    round: { type: 'string', value: 'ID', description: 'round id' },
    study: { type: 'string', value: 'ID', description: 'study id (its latest round)' },
  },
  examples: [
    'fgl server round status --data-dir ./server-data --study skin-lesions-3f9a1c',
    'fgl server round status --data-dir ./server-data --round round-20261202-041500-a1b2c3 --json',
  ],
  async run(ctx) {
    const dataDir = requireString(ctx, 'data-dir');
    const roundId = optionalString(ctx, 'round');
    const studyId = optionalString(ctx, 'study');
    if (!roundId === !studyId) throw new UsageError('give exactly one of --round ID or --study ID');
    const store = await openCommandStore(ctx, dataDir);
    try {
      const round: RoundStatus | undefined = roundId
        ? await store.rounds.get(roundId)
        : await store.rounds.latest(studyId!);
      if (!round)
        throw new UsageError(
          roundId
            ? `no round "${roundId}" in ${dataDir}`
            : `study "${studyId}" has no rounds in ${dataDir}`,
          'Start one with `fgl server round run` or POST /v1/studies/:id/rounds.',
        );
      const workers = await store.workers.roundProgress(round.id);
      const p = round.progress;
      const remaining = p && p.stage === 'synthesize' ? p.total - p.done : 0;
      const eta =
        workers.length > 0 && remaining > 0 ? workersEta(remaining, workers) : (p?.etaSec ?? null);
      ctx.out.result({ round, workers, etaSec: eta }, () =>
        [
          `Round ${round.id} of study ${round.studyId}: ${round.state}${round.error ? ` — ${round.error}` : ''}`,
          p
            ? `  ${p.stage}: ${p.done}/${p.total}` +
              (p.ratePerSec !== null ? `, ${p.ratePerSec.toFixed(2)}/s` : '') +
              (round.state === 'published' || round.state === 'failed'
                ? ''
                : `, ETA ${duration(eta)}`) +
              ` (updated ${p.updatedAt})`
            : '  no progress recorded yet',
          ...(round.modelVersion !== null ? [`  model version ${round.modelVersion}`] : []),
          ...(workers.length > 0
            ? [
                `  workers (${workers.length}):`,
                ...workers.map(
                  (w) =>
                    `    ${w.name.padEnd(16)} ${w.workerId}  ${String(w.images).padStart(6)} images  ${String(w.batches).padStart(4)} batches  ` +
                    `${w.ratePerSec !== null ? `${w.ratePerSec.toFixed(2)}/s` : '—'}  last ${w.lastAt}`,
                ),
              ]
            : []),
        ].join('\n'),
      );
    } finally {
      await store.close();
    }
  },
};
