import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createServer } from '../../src/server/create-server';
import { humanLogLine } from '../../src/server/log-format';
import { main } from '../../src/cli/main';

describe('server logs for people', () => {
  it('a real server writes one readable line per event, not JSON, and still redacts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'fgl-logs-'));
    const lines: string[] = [];
    const server = await createServer({ dataDir, host: '127.0.0.1', port: 0, stages: null, logger: { format: 'human', destination: { write: (s: string) => void lines.push(s) } } });
    try {
      const url = await server.start();
      await fetch(`${url}/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer secret-admin-key' }, body: JSON.stringify({ token: 'x'.repeat(24) }) });
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) {
      expect(l).toMatch(/^\d\d:\d\d:\d\d (trace|debug|info |WARN |ERROR|FATAL) /);
      expect(() => JSON.parse(l)).toThrow();
    }
    expect(lines.join('')).toMatch(/\[req-\d+\] incoming request: POST \/v1\/enroll/);
    expect(lines.join('')).toMatch(/\[req-\d+\] request completed: 4\d\d in \d+ ms/);
    expect(lines.join('')).not.toContain('secret-admin-key');
  });

  it('keeps the fields, and passes anything that is not a pino line through unchanged', () => {
    expect(humanLogLine(JSON.stringify({ level: 40, time: Date.UTC(2025, 0, 1, 12, 3, 4), msg: 'round failed', round: 'r1', err: { message: 'out of memory' } }))).toBe('12:03:04 WARN  round failed: out of memory  round=r1\n');
    expect(humanLogLine('not json')).toBe('not json\n');
  });

  it('`--log-format` takes human or json and explains anything else', async () => {
    let err = '';
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
    try {
      expect(await main(['server', 'start', '--data-dir', join(tmpdir(), 'unused'), '--log-format', 'xml'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(err).toContain('--log-format must be human or json, not "xml"');
  });
});
