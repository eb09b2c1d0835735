import { type CommandContext, type OptionSpec, optionalString, UsageError } from '../command';
import { dataLayout } from '../../server/store/data-layout';
import { ServerStore } from '../../server/store/server-store';
import { isPostgresUrl } from '../../server/store/sql/open-sql-db';

/*
 * `--store`, shared by every `fgl server` command that opens the store: SQLite in the data dir by
 * default, or a PostgreSQL database that several API replicas share (docs/scale.md).
 */

export const STORE_OPTION: OptionSpec = {
  type: 'string',
  value: 'URL',
  description:
    'keep the store in PostgreSQL: postgres://USER[:PASSWORD]@HOST:PORT/DB (default: <data>/server.db, SQLite); ' +
    'every server and admin command of one deployment gives the same URL',
};

/** The `--store` URL, or undefined for the SQLite default. */
export function storeOption(ctx: CommandContext): string | undefined {
  const url = optionalString(ctx, 'store');
  if (url === undefined) return undefined;
  if (!isPostgresUrl(url))
    throw new UsageError(
      `--store takes a PostgreSQL URL, not "${url}"`,
      'Give postgres://user@host:5432/fgl, or leave --store out to keep the store in <data>/server.db (SQLite).',
    );
  return url;
}

/** Open the store the command was pointed at (`--store`, else `<data>/server.db`). */
export function openCommandStore(ctx: CommandContext, dataDir: string): Promise<ServerStore> {
  const url = storeOption(ctx);
  return ServerStore.open(url ?? dataLayout(dataDir).db, undefined, dataDir);
}
