import { stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Command, CommandContext } from '../command';
import { intOption, optionalString, requireString } from '../command';
import { progressPrinter } from '../progress-printer';
import { readEnrollToken } from '../secret-input';
import { Ledger } from '../../site/ledger/ledger';
import { siteHome, sitePaths } from '../../site/site-home';
import { groupFingerprint } from '../../shared/fingerprint';
import { enrollSite } from '../../site/client/enroll-site';
import { packageFile, resumePendingUploads, uploadPackage } from '../../site/client/upload-package';
import { pullModel } from '../../site/client/pull-model';
import { clientForStudy } from '../../site/client/enroll-site';
import { releasePlan } from '../../site/prepare/release-plan';
import { MachineSpend } from '../../site/privacy/machine-spend';

/**
 * The file to upload from --package: the package itself, or, for a DP plan (fgl site prepare
 * --dp-epsilon), the package its approval draws now (once: approving again reuses it).
 */
async function approvedPackageFile(ledger: Ledger, arg: string, approvers: string[], signal: AbortSignal): Promise<string> {
  const dir = (await stat(arg)).isDirectory() ? resolve(arg) : dirname(resolve(arg));
  const plan = ledger.plans.byDir(dir);
  const newestPackage = ledger.packages.list({ limit: 10_000 }).find((p) => dirname(p.path) === dir);
  if (!plan || (newestPackage && newestPackage.runId > plan.runId)) return packageFile(arg);
  // Enrolled first: a site that cannot send must not spend ε on a package it cannot upload.
  clientForStudy(ledger, plan.studyId);
  const machine = MachineSpend.open();
  try {
    return (await releasePlan({ ledger, planId: plan.id, approvers, machine, signal })).packagePath;
  } finally {
    machine.close();
  }
}

async function withLedger<T>(fn: (ledger: Ledger, paths: ReturnType<typeof sitePaths>) => Promise<T>): Promise<T> {
  const paths = sitePaths(siteHome());
  const ledger = Ledger.open(paths.ledger);
  try {
    return await fn(ledger, paths);
  } finally {
    ledger.close();
  }
}

const listOption = (ctx: CommandContext, name: string): string[] => {
  const v = ctx.values[name];
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(String).filter((s) => s.trim() !== '');
};

export const siteEnrollCommand: Command = {
  path: ['site', 'enroll'],
  summary: 'enroll this site with a server using a one-time token; pins the server key',
  description: `
Trades the one-time enrollment token from the study coordinator for this site's API key (kept
in the site ledger under $FGL_HOME) and pins the server's Ed25519 public key: every model this
site downloads later must be signed by exactly that key.

Compare the printed fingerprint with the one the coordinator gave you (or pass it with
--expect-fingerprint so a mismatch stops enrollment). A server on https with its own CA
(\`fgl server start --tls\`) also needs --expect-ca-fingerprint: that CA is then the only one
trusted for this server. Plain http:// is refused except on loopback.

The token is read from --token-file, from stdin with \`--token -\`, from $FGL_ENROLL_TOKEN, or
asked for on the terminal (not echoed); \`--token VALUE\` works but warns, as other users see it
in \`ps\` and it stays in the shell history. The server key is checked BEFORE the token is sent,
so a mistyped --expect-fingerprint does not use up the token. If this site already pinned a
different key for the same server, enrollment stops and shows both fingerprints; pass the new
one with --expect-fingerprint only after the coordinator confirmed it.`,
  options: {
    server: { type: 'string', value: 'URL', description: 'server address, e.g. https://fgl.example.org:8787' },
    token: { type: 'string', value: 'T|-', description: "one-time token; '-' reads it from stdin (a value here is visible in ps: prefer the others)" },
    'token-file': { type: 'string', value: 'FILE', description: 'read the one-time token from this file' },
    'expect-fingerprint': { type: 'string', value: 'HEX', description: 'server key fingerprint given out-of-band; refuse on mismatch' },
    'expect-ca-fingerprint': { type: 'string', value: 'HEX', description: "the server's TLS CA fingerprint (https with its own CA); pinned for every later request" },
  },
  examples: [
    'fgl site enroll --server https://fgl.example.org:8787 --token-file ./token.txt --expect-fingerprint "3f9a 1c…"',
    'FGL_ENROLL_TOKEN=… fgl site enroll --server https://fgl.example.org:8787',
  ],
  async run(ctx) {
    const expect = optionalString(ctx, 'expect-fingerprint');
    const expectCa = optionalString(ctx, 'expect-ca-fingerprint');
    const server = requireString(ctx, 'server');
    const token = await readEnrollToken(
      { ...(typeof ctx.values.token === 'string' ? { token: ctx.values.token } : {}), ...(optionalString(ctx, 'token-file') ? { tokenFile: optionalString(ctx, 'token-file') } : {}) },
      { stdin: process.stdin, prompt: process.stderr, env: process.env, warn: (l) => ctx.out.warn(l) },
    );
    const res = await withLedger((ledger) =>
      enrollSite(ledger, server, token, { ...(expect ? { expectFingerprint: expect } : {}), ...(expectCa ? { expectCaFingerprint: expectCa } : {}) }),
    );
    ctx.out.result(res, () =>
      [
        `Enrolled as site ${res.siteId} at ${res.serverUrl} for ${res.studies.join(', ')}.`,
        `Server key fingerprint (pinned): ${groupFingerprint(res.serverKeyFingerprint)}`,
        ...(res.tlsCaFingerprint ? [`TLS CA fingerprint (pinned):     ${groupFingerprint(res.tlsCaFingerprint)}`] : []),
        'Check it against the fingerprint the study coordinator gave you.',
      ].join('\n'),
    );
  },
};

export const siteUploadCommand: Command = {
  path: ['site', 'upload'],
  summary: 'upload an approved package (writes the audit entry first; idempotent; resumable)',
  description: `
Uploads package.safetensors from a folder made by \`fgl site prepare\` to the server of the
study it was made for. Read privacy-report.md first: uploading is the approval.

With differential privacy the folder holds a plan, not a package: approving it (this command)
draws the noise once, charges ε in the site ledger and the machine-wide record
($FGL_PRIVACY_LEDGER) before anything is sent, writes package.safetensors and uploads it.
Running it again sends that same package; it never draws fresh noise.

An audit entry (package sha256, bytes, server, study, approvers, time) is written before
anything is sent. Network errors and server errors are retried with backoff; the upload is
idempotent by sha256, so retrying never stores a second copy. If the app stops mid-upload,
\`fgl site upload --resume\` finishes every pending upload.`,
  options: {
    package: { type: 'string', value: 'DIR', description: 'folder holding package.safetensors (or the file)' },
    approver: { type: 'string', value: 'NAME', description: 'who approved the upload (default: your OS user name)' },
    'second-approver': { type: 'string', value: 'NAME', description: 'a second approver (e.g. the privacy officer)' },
    resume: { type: 'boolean', description: 'retry every pending upload recorded in the ledger' },
  },
  examples: ['fgl site upload --package ./pkg --approver "Dr. A. Smith" --second-approver "Privacy Office"'],
  async run(ctx) {
    const rows = await withLedger(async (ledger) => {
      if (ctx.values.resume) return resumePendingUploads(ledger, { signal: ctx.signal });
      const approvers = [optionalString(ctx, 'approver') ?? userInfo().username, ...listOption(ctx, 'second-approver')];
      const onProgress = progressPrinter(ctx.out);
      const file = await approvedPackageFile(ledger, requireString(ctx, 'package'), approvers, ctx.signal);
      return [await uploadPackage(ledger, file, { approvers, signal: ctx.signal, ...(onProgress ? { onProgress } : {}) })];
    });
    ctx.out.result({ uploads: rows }, () =>
      rows.length === 0
        ? 'No pending uploads.'
        : rows.map((r) => `Uploaded ${r.packageSha256} (${r.bytes} bytes) to ${r.serverUrl}, study ${r.studyId}; approved by ${r.approvers.join(', ')}; audit entry #${r.id} (${r.status}).`).join('\n'),
    );
  },
};

export const siteModelPullCommand: Command = {
  path: ['site', 'model', 'pull'],
  summary: "download a study's model, verify its signature and every file's sha256",
  description: `
Downloads a published model (the latest unless --version is given) into $FGL_HOME/downloads,
resuming partial files with HTTP Range requests, then verifies it: the manifest's Ed25519
signature against the key pinned at enrollment, each file's size and sha256, that no listed
path leaves the model folder, that no unlisted file is present, and that the version is not
older than one already accepted. A model that fails any check is deleted; the message names
the check.`,
  options: {
    study: { type: 'string', value: 'ID', description: 'study id' },
    version: { type: 'string', value: 'N', description: 'model version (default: latest)' },
  },
  examples: ['fgl site model pull --study shapes-1a2b3c'],
  async run(ctx) {
    const onProgress = progressPrinter(ctx.out);
    const res = await withLedger((ledger, paths) =>
      pullModel(ledger, requireString(ctx, 'study'), {
        modelsRoot: join(paths.downloads, 'models'),
        ...(ctx.values.version !== undefined ? { version: intOption(ctx, 'version', 1, 1) } : {}),
        signal: ctx.signal,
        ...(onProgress ? { onProgress } : {}),
      }),
    );
    ctx.out.result({ studyId: res.row.studyId, version: res.row.version, dir: res.row.dir, verified: res.row.verified, bytes: res.bytes, classes: res.manifest.classes, metrics: res.manifest.metrics }, () =>
      [
        `Model v${res.row.version} of ${res.row.studyId}: ${res.bytes} bytes in ${res.row.dir}`,
        `  signature and ${res.manifest.files.length} file hashes verified against the pinned server key`,
        `  ${res.manifest.kind} model for ${res.manifest.classes.length} classes; validation accuracy on synthetic data ${(res.manifest.metrics.valAccuracy * 100).toFixed(1)}%`,
        `Evaluate it offline: fgl site evaluate --study ${res.row.studyId} --model ${res.row.version} --data DIR`,
      ].join('\n'),
    );
  },
};
