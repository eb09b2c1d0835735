import { mkdirSync } from 'node:fs';
import type { SiteHandlers } from '../../shared/site-api';
import { Ledger } from '../ledger/ledger';
import { sitePaths } from '../site-home';
import { plainVault, type SiteKeyVault } from '../client/site-key-vault';
import { createSiteContext, type ResolveModels } from './handlers/site-context';
import { settingsHandlers } from './handlers/settings-handlers';
import { connectHandlers } from './handlers/connect-handlers';
import { datasetsHandlers } from './handlers/datasets-handlers';
import { prepareHandlers } from './handlers/prepare-handlers';
import { modelsHandlers } from './handlers/models-handlers';
import { evaluateHandlers } from './handlers/evaluate-handlers';
import { auditHandlers } from './handlers/audit-handlers';

export { SiteApiFailure } from './site-api-failure';

export type SiteBackendOptions = {
  home: string;
  /** How the site API key is kept in the ledger (desktop: sealed under the OS keychain key). */
  vault?: SiteKeyVault;
  /** How the shell turns the models setting ('tiny' or a folder) into model folders. */
  resolveModels: ResolveModels;
  /** The ledger file; `<home>/ledger.sqlite` unless given (tests pass ':memory:'). */
  ledgerFile?: string;
};

/**
 * The site API behind the desktop app and the headless agent: one implementation per domain
 * (src/site/api/handlers/), composed here and checked against the shared contract by
 * `satisfies SiteHandlers`. Runs in the backend process (the utility process under Electron),
 * never in main or the renderer.
 */
export function createSiteHandlers(o: SiteBackendOptions): {
  handlers: SiteHandlers;
  ledger: Ledger;
  close(): void;
} {
  mkdirSync(o.home, { recursive: true });
  const ledger = Ledger.open(o.ledgerFile ?? sitePaths(o.home).ledger);
  ledger.runs.failInterrupted();
  const c = createSiteContext({
    home: o.home,
    ledger,
    vault: o.vault ?? plainVault,
    resolveModels: o.resolveModels,
  });

  const handlers = {
    ...settingsHandlers(c),
    ...connectHandlers(c),
    ...datasetsHandlers(),
    ...prepareHandlers(c),
    ...modelsHandlers(c),
    ...evaluateHandlers(c),
    ...auditHandlers(c),
  } satisfies SiteHandlers;

  return {
    handlers,
    ledger,
    close() {
      for (const j of c.jobs.values()) j.controller.abort(new Error('the backend is shutting down'));
      c.close();
      ledger.close();
    },
  };
}
