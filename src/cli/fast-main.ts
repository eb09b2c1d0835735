import type { Command } from './command';
import { findCommand, helpWithoutCommand, runCommand } from './main-core';
import { commandLoaders } from './commands/lazy-registry';

/** What the bundle build records about every command, so help needs no command module. */
export type HelpIndex = { commands: { path: string[]; summary: string; help: string }[] };

/**
 * `fgl` from the built bundle (bin/fgl.mjs): help from the index written at build time; a
 * command by loading only its own module (and its dependencies).
 */
export async function fastMain(argv: string[], index: HelpIndex): Promise<number> {
  const stubs = index.commands.map((c) => ({ ...c, description: '', options: {}, run: async () => 1 })) satisfies Command[];
  const early = helpWithoutCommand(argv, stubs);
  if (early !== null) return early;
  const { cmd, rest } = findCommand(argv, stubs)!;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(cmd.help);
    return 0;
  }
  const key = cmd.path.join(' ');
  const load = commandLoaders[key];
  const real = load ? await load() : (await import('./commands/registry')).commands.find((c) => c.path.join(' ') === key)!;
  return runCommand(real, rest);
}
