import { commands } from './commands/registry';
import { findCommand, helpWithoutCommand, runCommand } from './main-core';

/** `fgl` with every command loaded (tests, and bin/fgl.mjs when no fresh bundle can be built). */
export async function main(argv: string[]): Promise<number> {
  const early = helpWithoutCommand(argv, commands);
  if (early !== null) return early;
  const { cmd, rest } = findCommand(argv, commands)!;
  return runCommand(cmd, rest);
}
