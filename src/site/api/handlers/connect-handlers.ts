import type { SiteStudy } from '../../../shared/site-api';
import { enrollSite } from '../../client/enroll-site';
import type { HandlerSlice, SiteContext } from './site-context';

/** Connect: enrollment with the coordinator's token, and the studies it gave access to. */
export function connectHandlers(c: SiteContext) {
  return {
    async 'connect.enroll'(req) {
      // The fingerprints typed from the coordinator's message are checked before anything is stored.
      const r = await enrollSite(c.ledger, req.serverUrl, req.token, {
        vault: c.vault,
        ...(req.expectFingerprint ? { expectFingerprint: req.expectFingerprint } : {}),
        ...(req.expectCaFingerprint ? { expectCaFingerprint: req.expectCaFingerprint } : {}),
      });
      return { serverKeyFingerprint: r.serverKeyFingerprint, siteId: r.siteId, studies: r.studies, tlsCaFingerprint: r.tlsCaFingerprint };
    },
    async 'studies.list'() {
      const ids = [...new Set(c.ledger.enrollments.list().map((e) => e.studyId))];
      const studies: SiteStudy[] = [];
      for (const id of ids) {
        const m = await c.studyManifest(id);
        studies.push({
          id: m.id,
          name: m.name,
          classes: m.classes,
          k: m.privacy.k,
          maxEpsilon: m.privacy.maxEpsilon,
          allowInstance: m.privacy.allowInstance,
        });
      }
      return { studies };
    },
  } satisfies HandlerSlice<'connect.enroll' | 'studies.list'>;
}
