import { auditEntry, type HandlerSlice, type SiteContext } from './site-context';

/** Audit: the append-only upload log, searchable. */
export function auditHandlers(c: SiteContext) {
  return {
    async 'audit.list'(req) {
      return {
        entries: c.ledger.uploads
          .list({ ...(req.search ? { search: req.search } : {}), limit: 500 })
          .map(auditEntry),
      };
    },
  } satisfies HandlerSlice<'audit.list'>;
}
