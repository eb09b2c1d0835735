import type { Command } from './command';

export function commandHelp(cmd: Command): string {
  const lines: string[] = [];
  const usageOpts = Object.entries(cmd.options)
    .map(([n, s]) => (s.type === 'boolean' ? `[--${n}]` : `[--${n} ${s.value ?? 'VALUE'}]`))
    .join(' ');
  lines.push(`Usage: fgl ${cmd.path.join(' ')}${cmd.positionals ? ' ' + cmd.positionals : ''} ${usageOpts} [--json]`);
  lines.push('', cmd.summary, '', cmd.description.trim(), '', 'Options:');
  const rows: [string, string][] = Object.entries(cmd.options).map(([n, s]) => {
    const flag = `${s.short ? `-${s.short}, ` : '    '}--${n}${s.type === 'string' ? ` ${s.value ?? 'VALUE'}` : ''}`;
    const def = s.default !== undefined ? ` (default: ${String(s.default)})` : '';
    return [flag, s.description + def];
  });
  rows.push(['    --json', 'print machine-readable JSON on stdout (progress and logs go to stderr)']);
  rows.push(['-h, --help', 'show this help']);
  const w = Math.max(...rows.map(([f]) => f.length)) + 2;
  for (const [f, d] of rows) lines.push(`  ${f.padEnd(w)}${d}`);
  if (cmd.examples?.length) {
    lines.push('', 'Examples:');
    for (const e of cmd.examples) lines.push(`  ${e}`);
  }
  return lines.join('\n') + '\n';
}

export function globalHelp(commands: readonly Command[]): string {
  const lines = [
    'fgl — Federated Generative Learning',
    '',
    'Sites turn local images into text-conditioning embeddings, check and approve what leaves,',
    'and upload only those; the server synthesizes a training set with Stable Diffusion,',
    'trains, signs and publishes a model that sites verify and evaluate offline.',
    '',
    'Usage: fgl <command> [options]      (every command takes --help and most take --json)',
    '',
    'Commands:',
  ];
  const w = Math.max(...commands.map((c) => c.path.join(' ').length)) + 2;
  for (const c of commands) lines.push(`  ${c.path.join(' ').padEnd(w)}${c.summary}`);
  lines.push('', 'Environment:', '  FGL_HOME   where site state (ledger, keys, caches) lives; default: the OS app-data folder');
  lines.push('  FGL_MODELS_DIR  model cache folder (default: $FGL_HOME/models)');
  lines.push('  FGL_ALLOW_NETWORK=1  allow model downloads from the hub (offline by default)');
  return lines.join('\n') + '\n';
}
