import { parseArgs } from 'node:util';
import { type Command, type Output, UsageError, parseArgsOptions } from './command';
import { commandHelp, globalHelp } from './help';

function makeOutput(json: boolean): Output {
  return {
    json,
    tty: Boolean(process.stderr.isTTY),
    result(data, human) {
      process.stdout.write(json ? JSON.stringify(data, null, 2) + '\n' : human().replace(/\n?$/, '\n'));
    },
    info(line) {
      if (!json) process.stderr.write(line + '\n');
    },
    warn(line) {
      process.stderr.write(`warning: ${line}\n`);
    },
  };
}

/** Longest command path that prefixes argv. */
export function findCommand<C extends Pick<Command, 'path'>>(argv: string[], list: readonly C[]): { cmd: C; rest: string[] } | undefined {
  let best: C | undefined;
  for (const c of list) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { cmd: best, rest: argv.slice(best.path.length) } : undefined;
}

/**
 * Global help, a group's list (`fgl models`) or the unknown-command message, when argv names no
 * command; null when it does. Needs only each command's path and summary.
 */
export function helpWithoutCommand(argv: string[], list: readonly Command[]): number | null {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(globalHelp(list));
    return 0;
  }
  if (findCommand(argv, list)) return null;
  // A group word alone (`fgl models`) lists its subcommands.
  const group = list.filter((c) => argv.every((w, i) => c.path[i] === w || w.startsWith('-')));
  if (group.length > 0 && !argv[0]!.startsWith('-')) {
    process.stdout.write(globalHelp(group));
    return argv.includes('--help') || argv.includes('-h') ? 0 : 2;
  }
  process.stderr.write(`fgl: unknown command "${argv.join(' ')}". Run \`fgl --help\` for the list.\n`);
  return 2;
}

/** Parse one command's arguments and run it: usage errors exit 2, failures 1, Ctrl-C 130. */
export async function runCommand(cmd: Command, rest: string[]): Promise<number> {
  const ac = new AbortController();
  const onSigint = () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('\nCancelling… (press Ctrl-C again to force)\n');
    ac.abort(new Error('cancelled by user'));
  };
  process.on('SIGINT', onSigint);
  try {
    const parsed = parseArgs({ args: rest, options: parseArgsOptions(cmd), allowPositionals: true, strict: true });
    if (parsed.values.help) {
      process.stdout.write(commandHelp(cmd));
      return 0;
    }
    const out = makeOutput(Boolean(parsed.values.json));
    // `npm run bench -- cli` reads this to time start-up up to the point the command starts working.
    if (process.env.FGL_STARTUP_PROBE) process.stderr.write(`fgl-startup-probe ${performance.now().toFixed(1)} ms\n`);
    const code = await cmd.run({ values: parsed.values, positionals: parsed.positionals, out, signal: ac.signal });
    return code ?? 0;
  } catch (err) {
    const e = err as Error & { code?: string; hint?: string };
    if (err instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`fgl ${cmd.path.join(' ')}: ${e.message}\n`);
      if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
      process.stderr.write(`Run \`fgl ${cmd.path.join(' ')} --help\` for usage.\n`);
      return 2;
    }
    if (ac.signal.aborted) {
      process.stderr.write('Cancelled.\n');
      return 130;
    }
    process.stderr.write(`fgl ${cmd.path.join(' ')}: ${e.message}\n`);
    if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
    if (process.env.FGL_DEBUG) process.stderr.write(`${e.stack ?? ''}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
