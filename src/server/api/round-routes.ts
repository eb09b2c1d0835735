import { z } from 'zod';
import { randomIdPart } from '../auth/secret-token';
import { STAGES_NOT_WIRED } from '../jobs/round-stages';
import type { RoundStatus } from '../../shared/server-api';
import type { ApiDeps } from './api-deps';
import { studyForCaller } from './api-deps';
import {
  RoundId,
  RoundStatus as RoundStatusSchema,
  StartRoundBody,
  StartRoundResponse,
  StudyId,
} from '../../shared/server-api';
import { HttpError, notFound } from './http-error';
import { type AnyRouteSpec, type Caller, defineRoute } from './route-def';

export function newRoundId(now: Date): string {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-').toLowerCase();
  return `round-${stamp}-${randomIdPart(3)}`;
}

export async function roundForCaller(deps: ApiDeps, caller: Caller, roundId: string): Promise<RoundStatus> {
  const round = await deps.store.rounds.get(roundId);
  // A round of a study the caller is not in answers exactly like a missing round: neither its
  // existence nor its study id may leak.
  const visible = round && (caller.kind === 'admin' || (caller.kind === 'site' && (await deps.store.sites.isEnrolled(caller.siteId, round.studyId))));
  if (!round || !visible) throw notFound('round_not_found', `round "${roundId}" not found`);
  return roundAsSeenBy(deps, caller, round);
}

/** A site sees only its own package count; the coordinator sees the round's total. */
async function roundAsSeenBy(deps: ApiDeps, caller: Caller, round: RoundStatus): Promise<RoundStatus> {
  return caller.kind === 'site' ? { ...round, packages: await deps.store.rounds.sitePackages(round, caller.siteId) } : round;
}

function startRun(deps: ApiDeps, round: RoundStatus): { started: boolean; note?: string } {
  if (!deps.runner.available) return { started: false, note: STAGES_NOT_WIRED };
  deps.runner.run(round.id).catch(() => undefined); // failures are recorded on the round itself
  return { started: true };
}

export function roundRoutes(deps: ApiDeps): AnyRouteSpec[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/studies/:studyId/rounds',
      tag: 'rounds',
      summary: 'Open a round and (by default) start it: synthesis → training → signed model',
      description:
        'At most one round per study is open at a time (409 otherwise). The round trains on every package the ' +
        'study has when synthesis starts. If the server has no synthesis/training stages wired, the round stays ' +
        '`collecting` and `started` is false with a note saying so.',
      auth: 'admin',
      params: z.object({ studyId: StudyId }),
      body: StartRoundBody,
      responses: { 201: { description: 'The round', schema: StartRoundResponse } },
      handler: async ({ params, body, caller, reply }) => {
        const study = await studyForCaller(deps, caller, params.studyId);
        const open = await deps.store.rounds.open(study.id);
        if (open)
          throw new HttpError(
            409,
            'round_already_open',
            `study "${study.id}" already has round ${open.id} in state ${open.state}`,
            `Wait for it to finish (GET /v1/rounds/${open.id}).`,
          );
        const id = newRoundId(deps.clock());
        await deps.store.rounds.insert(id, study.id);
        const run = body.run ? startRun(deps, (await deps.store.rounds.get(id))!) : { started: false };
        return reply.code(201).send({ round: (await deps.store.rounds.get(id))!, ...run });
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/rounds/:roundId/run',
      tag: 'rounds',
      summary: 'Start (or resume) a round that is not finished',
      auth: 'admin',
      params: z.object({ roundId: RoundId }),
      responses: { 202: { description: 'Started', schema: StartRoundResponse } },
      handler: async ({ params, caller, reply }) => {
        const round = await roundForCaller(deps, caller, params.roundId);
        if (round.state === 'published' || round.state === 'failed')
          throw new HttpError(
            409,
            'round_finished',
            `round ${round.id} is already ${round.state}`,
            'Open a new round with POST /v1/studies/:id/rounds.',
          );
        if (!deps.runner.available)
          throw new HttpError(
            503,
            'stages_not_wired',
            STAGES_NOT_WIRED,
            'Run a server build with the synthesis pipeline and trainer wired.',
          );
        const run = startRun(deps, round);
        return reply.code(202).send({ round: (await deps.store.rounds.get(round.id))!, ...run });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId/rounds/latest',
      tag: 'rounds',
      summary: "The study's most recent round: state and progress",
      auth: 'any',
      params: z.object({ studyId: StudyId }),
      responses: { 200: { description: 'The round', schema: RoundStatusSchema } },
      handler: async ({ params, caller }) => {
        const study = await studyForCaller(deps, caller, params.studyId);
        const round = await deps.store.rounds.latest(study.id);
        if (!round)
          throw notFound(
            'round_not_found',
            `study "${study.id}" has no rounds yet`,
            'The coordinator opens one with POST /v1/studies/:id/rounds.',
          );
        return roundAsSeenBy(deps, caller, round);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/rounds/:roundId',
      tag: 'rounds',
      summary: 'A round: state, progress {stage, done, total, ratePerSec, etaSec}, error',
      auth: 'any',
      params: z.object({ roundId: RoundId }),
      responses: { 200: { description: 'The round', schema: RoundStatusSchema } },
      handler: async ({ params, caller }) => roundForCaller(deps, caller, params.roundId),
    }),
  ];
}
