/**
 * The `fgl bench` command without the CLI registry: npx tsx bench/run-bench.ts site|server|scale|all [--out DIR] [--quick] [--json]
 * Same behaviour and exit code as `npm run bench -- <area>`.
 */
import { parseArgs } from 'node:util';
import { type Output, UsageError, parseArgsOptions } from '../src/cli/command';
import { commandHelp } from '../src/cli/help';
import { benchCommand } from '../src/cli/commands/bench';

const parsed = parseArgs({
  args: process.argv.slice(2),
  options: parseArgsOptions(benchCommand),
  allowPositionals: true,
  strict: true,
});
if (parsed.values.help) {
  process.stdout.write(commandHelp(benchCommand));
} else {
  const json = Boolean(parsed.values.json);
  const out: Output = {
    json,
    tty: Boolean(process.stderr.isTTY),
    result: (data, human) =>
      process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`),
    info: (line) => {
      if (!json) process.stderr.write(`${line}\n`);
    },
    warn: (line) => process.stderr.write(`warning: ${line}\n`),
  };
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort(new Error('cancelled by user')));
  try {
    process.exitCode =
      (await benchCommand.run({
        values: parsed.values,
        positionals: parsed.positionals,
        out,
        signal: ac.signal,
      })) ?? 0;
  } catch (e) {
    process.stderr.write(`fgl bench: ${(e as Error).message}\n`);
    process.exitCode = e instanceof UsageError ? 2 : ac.signal.aborted ? 130 : 1;
  }
}
