#!/usr/bin/env node
// Entry point for `npx fgl`. Starts from a bundle of the CLI built from the TypeScript sources
// (.fgl-tmp/cli/, rebuilt here whenever a source changed), so help and every command start
// without transpiling the whole tree; if no bundle can be built, it runs the sources through tsx.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = `${root}/.fgl-tmp/cli`;

/** Sources' newest mtime, count and size: changes whenever a file under src/ is edited, added or removed. */
function sourceStamp() {
  let newest = 0;
  let count = 0;
  let bytes = 0;
  for (const rel of readdirSync(`${root}/src`, { recursive: true })) {
    const name = String(rel);
    if (!name.endsWith('.ts') && !name.endsWith('.tsx')) continue;
    const st = statSync(`${root}/src/${name}`);
    newest = Math.max(newest, st.mtimeMs);
    count++;
    bytes += st.size;
  }
  return `${newest}:${count}:${bytes}:${statSync(`${root}/package.json`).mtimeMs}`;
}

async function runBundle() {
  const index = JSON.parse(readFileSync(`${bundle}/help-index.json`, 'utf8'));
  const { fastMain } = await import(`${bundle}/fgl.js`);
  return fastMain(process.argv.slice(2), index);
}

const stamp = sourceStamp();
let built = false;
try {
  built = JSON.parse(readFileSync(`${bundle}/stamp.json`, 'utf8')).stamp === stamp;
} catch {
  // no bundle yet
}
if (built) {
  process.exitCode = await runBundle();
} else {
  const { register } = await import('tsx/esm/api');
  register();
  try {
    const { buildCliBundle } = await import('../src/cli/cli-bundle.ts');
    await buildCliBundle(stamp);
    built = true;
  } catch (e) {
    if (process.env.FGL_DEBUG) process.stderr.write(`fgl: could not build the CLI bundle (${e?.message ?? e}); running the sources\n`);
  }
  if (built) process.exitCode = await runBundle();
  else {
    const { main } = await import('../src/cli/main.ts');
    process.exitCode = await main(process.argv.slice(2));
  }
}
