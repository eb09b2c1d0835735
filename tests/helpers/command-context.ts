import type { CommandContext } from '../../src/cli/command';

/** A CommandContext that records what a command reports: `results` (data) and `human` (rendered text). */
export function recordingContext(
  values: CommandContext['values'],
  json = true,
  positionals: string[] = [],
) {
  const results: unknown[] = [];
  const human: string[] = [];
  const ctx: CommandContext = {
    values,
    positionals,
    signal: new AbortController().signal,
    out: {
      json,
      tty: false,
      result: (data, render) => {
        results.push(data);
        human.push(render());
      },
      info: () => {},
      warn: () => {},
    },
  };
  return { ctx, results, human };
}
