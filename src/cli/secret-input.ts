import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type Readable, Writable } from 'node:stream';
import { UsageError } from './command';

export const ENROLL_TOKEN_ENV = 'FGL_ENROLL_TOKEN';

export type SecretIo = {
  stdin: Readable & { isTTY?: boolean };
  /** Where the prompt is written (the terminal); typed characters are not echoed. */
  prompt: Writable;
  env: NodeJS.ProcessEnv;
  warn(line: string): void;
};

async function readAll(stream: Readable): Promise<string> {
  let s = '';
  for await (const chunk of stream)
    s += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  return s;
}

/** Ask on the terminal without echoing what is typed. */
function promptHidden(io: SecretIo, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    io.prompt.write(question);
    // readline echoes what is typed to `output`: a sink, so the token never reaches the screen.
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const rl = createInterface({ input: io.stdin, terminal: true, output: sink });
    rl.once('line', (line) => {
      rl.close();
      io.prompt.write('\n');
      resolve(line);
    });
    // The terminal is in raw mode while asking: Ctrl-C arrives here, not as a signal.
    rl.once('SIGINT', () => {
      rl.close();
      io.prompt.write('\n');
      reject(new UsageError('enrollment cancelled'));
    });
  });
}

/**
 * The one-time enrollment token, from (in this order of preference) a file (`--token-file`),
 * stdin (`--token -`), the FGL_ENROLL_TOKEN environment variable or a hidden prompt on a
 * terminal. `--token VALUE` still works but warns: the value is visible to every user in `ps`
 * and stays in the shell history.
 */
export async function readEnrollToken(
  o: { token?: string; tokenFile?: string },
  io: SecretIo,
): Promise<string> {
  const given = [o.token !== undefined, o.tokenFile !== undefined].filter(Boolean).length;
  if (given > 1) throw new UsageError('give the token once: either --token or --token-file');
  let token: string;
  if (o.tokenFile !== undefined) {
    try {
      token = await readFile(o.tokenFile, 'utf8');
    } catch (e) {
      throw new UsageError(
        `cannot read --token-file ${o.tokenFile}: ${(e as Error).message}`,
        'Give the path of a file that holds only the token.',
      );
    }
  } else if (o.token === '-') token = await readAll(io.stdin);
  else if (o.token !== undefined) {
    io.warn(
      `Warning: a token given as --token VALUE is visible to other users (ps) and stays in your shell history. Prefer --token-file FILE, --token - (stdin), ${ENROLL_TOKEN_ENV}, or no --token at all to be asked.`,
    );
    token = o.token;
  } else if (io.env[ENROLL_TOKEN_ENV] !== undefined && io.env[ENROLL_TOKEN_ENV] !== '')
    token = io.env[ENROLL_TOKEN_ENV];
  else if (io.stdin.isTTY) token = await promptHidden(io, 'Enrollment token (not shown): ');
  else
    throw new UsageError(
      'no enrollment token given',
      `Pass it with --token-file FILE, pipe it with --token -, or set ${ENROLL_TOKEN_ENV}; on a terminal you are asked for it.`,
    );
  token = token.trim();
  if (token === '')
    throw new UsageError(
      'the enrollment token is empty',
      "Copy the whole token from the coordinator's message.",
    );
  if (/\s/.test(token))
    throw new UsageError(
      'the enrollment token holds spaces or several lines',
      'The token is one word, e.g. fgl_enroll_…; a token file must hold only the token.',
    );
  return token;
}
