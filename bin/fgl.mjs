#!/usr/bin/env node
// Entry point for `npx fgl`. Starts from a bundle of the CLI built from the TypeScript sources
// (.fgl-tmp/cli/, rebuilt here whenever a source changed), so help and every command start
// without transpiling the whole tree; if no bundle can be built, it runs the sources through tsx.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = `${root}/.fgl-tmp/cli`;

// FGL runs on Node 24: the `node` npm package puts it in node_modules/.bin, where `npx fgl` and npm
// scripts find it first. Under another major, better-sqlite3's Node 24 build crashes the process
// with a segmentation fault, so a plain `node bin/fgl.mjs` re-runs itself on the project's Node.
const NODE_MAJOR = 24;
if (Number(process.versions.node.split('.')[0]) !== NODE_MAJOR) {
  const projectNode = `${root}/node_modules/node/bin/node`;
  if (!existsSync(projectNode)) {
    process.stderr.write(
      `fgl: FGL needs Node.js ${NODE_MAJOR}; this is ${process.version}. Run \`npm install\` in ${root} (it installs Node ${NODE_MAJOR} into node_modules) and start FGL with \`npx fgl\`.\n`,
    );
    process.exit(1);
  }
  const r = spawnSync(projectNode, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

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
const isCurrent = () => {
  try {
    return JSON.parse(readFileSync(`${bundle}/stamp.json`, 'utf8')).stamp === stamp;
  } catch {
    return false; // no bundle yet
  }
};

/**
 * One builder at a time: concurrent first starts (tests, several workers) wait for the one that
 * holds `.fgl-tmp/cli.lock` instead of replacing the bundle under each other. A lock older than
 * two minutes is a builder that died. Returns a release function, or null after waiting 60 s.
 */
async function buildLock() {
  const lock = `${root}/.fgl-tmp/cli.lock`;
  mkdirSync(`${root}/.fgl-tmp`, { recursive: true });
  for (const until = Date.now() + 60_000; Date.now() < until; ) {
    try {
      closeSync(openSync(lock, 'wx'));
      return () => rmSync(lock, { force: true });
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { force: true });
      } catch {
        // released meanwhile
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return null;
}

let built = isCurrent();
if (!built) {
  const release = await buildLock();
  try {
    built = isCurrent(); // another process may have built it while we waited
    if (!built && release) {
      const { register } = await import('tsx/esm/api');
      register();
      const { buildCliBundle } = await import('../src/cli/cli-bundle.ts');
      await buildCliBundle(stamp);
      built = true;
    }
  } catch (e) {
    if (process.env.FGL_DEBUG) process.stderr.write(`fgl: could not build the CLI bundle (${e?.message ?? e}); running the sources\n`);
  } finally {
    release?.();
  }
}
if (built) process.exitCode = await runBundle();
else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}
