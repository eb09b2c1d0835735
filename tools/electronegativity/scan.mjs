// Runs Electronegativity through its Node API and writes the CSV report ourselves: the CLI's
// `-o report.csv` writes the header and the rows with two concurrent async writeFile calls, so the
// header can overwrite the first finding (seen here: a HIGH finding vanished from the CSV).
// Env: ENG_PKG (the package folder), ENG_INPUT, ENG_OUTPUT, ENG_ACCEPTED, ENG_FAIL_ON, ENG_ELECTRON.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`scan.mjs: ${name} is not set; run tools/electronegativity/run.sh`);
    process.exit(2);
  }
  return v;
};
const rank = { INFORMATIONAL: 0, LOW: 1, MEDIUM: 2, HIGH: 3 };
const failOn = env('ENG_FAIL_ON').toUpperCase();
if (!(failOn in rank)) {
  console.error('ENG_FAIL_ON must be informational, low, medium or high');
  process.exit(2);
}

const require = createRequire(import.meta.url);
const runner = require(join(env('ENG_PKG'), 'dist', 'runner.js'));
const run = typeof runner === 'function' ? runner : runner.default; // CommonJS: module.exports = run
let result;
try {
  result = await run({
    input: env('ENG_INPUT'),
    isRelative: true,
    electronVersionOverride: env('ENG_ELECTRON'),
  });
} catch (e) {
  console.error(`electronegativity failed: ${e?.stack ?? e}`);
  process.exit(2);
}
if (!result || !Array.isArray(result.issues)) {
  console.error('electronegativity returned no result (see its messages above)');
  process.exit(2);
}
for (const e of result.errors ?? []) console.error(`parse error: ${e.file}: ${e.message}`);

const accepted = JSON.parse(readFileSync(env('ENG_ACCEPTED'), 'utf8')).accepted;
const csv = (v) => `"${String(v ?? 'N/A').replace(/"/g, '""')}"`;
const lines = ['issue,severity,confidence,filename,location,sample,description,url,status'];
const counts = {};
let blocking = 0;
for (const i of result.issues) {
  const sev = i.severity.name.toUpperCase();
  const sample = i.sample ?? 'N/A';
  const ok = accepted.some((a) => a.check === i.id && a.file === i.file && a.sample === sample);
  const blocks = !ok && rank[sev] >= rank[failOn];
  if (blocks) blocking++;
  counts[sev] = (counts[sev] ?? 0) + 1;
  const status = blocks ? 'FAIL' : ok ? 'accepted' : 'below-threshold';
  const loc = `${i.location?.line}:${i.location?.column}`;
  lines.push(
    [
      i.id,
      sev,
      i.confidence.name,
      i.file,
      loc,
      sample,
      i.description,
      `https://github.com/doyensec/electronegativity/wiki/${i.id}`,
      status,
    ]
      .map(csv)
      .join(','),
  );
  console.log(`${status.padEnd(15)} ${sev.padEnd(13)} ${i.id.padEnd(28)} ${i.file}:${loc}`);
}
const out = env('ENG_OUTPUT');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, lines.join('\n') + '\n');
console.log(
  `electronegativity: ${result.globalChecks + result.atomicChecks} checks, ${result.issues.length} findings ` +
    `(${
      Object.entries(counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }); ` +
    `${blocking} not accepted at or above ${failOn}; report ${out}`,
);
process.exit(blocking > 0 ? 1 : 0);
