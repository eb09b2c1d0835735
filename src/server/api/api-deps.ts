import type { Clock } from '../../shared/clock';
import type { ServerSigningKey } from '../auth/server-signing-key';
import type { RoundRunner } from '../jobs/round-runner';
import type { ServerLimits } from '../server-config';
import type { DataLayout } from '../store/data-layout';
import type { ServerStore, StoredStudy } from '../store/server-store';
import { notFound } from './http-error';
import type { Caller } from './route-def';
import type { SiteModelSource } from './site-model-routes';

/** Everything the route handlers need, passed explicitly (no globals). */
export type ApiDeps = {
  store: ServerStore;
  /** Where request handlers take the time from (the one injected into the store at open). */
  clock: Clock;
  layout: DataLayout;
  signingKey: ServerSigningKey;
  runner: RoundRunner;
  limits: ServerLimits;
  version: string;
  /** The site-side models this server hands out (its --models folder), or null. */
  siteModels: SiteModelSource | null;
};

/**
 * The study, if the caller may see it: admins see every study, a site only those it is enrolled
 * in. Anything else is 404 — the same answer as for a study that does not exist.
 */
export async function studyForCaller(deps: ApiDeps, caller: Caller, studyId: string): Promise<StoredStudy> {
  const study = await deps.store.studies.get(studyId);
  const visible =
    study !== undefined &&
    (caller.kind === 'admin' ||
      (caller.kind === 'site' && (await deps.store.sites.isEnrolled(caller.siteId, studyId))));
  if (!visible)
    throw notFound(
      'study_not_found',
      `study "${studyId}" not found`,
      'Check the study id; a site sees only the studies it is enrolled in.',
    );
  return study;
}
