import type { PrivacyReport } from '../../shared/privacy-report';
import { membershipInferenceAppendix } from '../report/membership-appendix';

/** The report's contract lives in src/shared/privacy-report.ts; this file renders it. */
export type { PrivacyReport, ReportRow, RowCheck } from '../../shared/privacy-report';

const fmtBytes = (b: number) =>
  b < 1024
    ? `${b} B`
    : b < 1024 ** 2
      ? `${(b / 1024).toFixed(1)} KiB`
      : `${(b / 1024 ** 2).toFixed(2)} MiB`;

export function reportMarkdown(r: PrivacyReport): string {
  const sent = r.rows.filter((x) => !x.blocked);
  const blocked = r.rows.filter((x) => x.blocked);
  const lines = [
    `# Privacy report — ${r.study.name}`,
    '',
    ...(r.tinyModels
      ? [
          '> **Made with generated tiny test models: the embeddings are plumbing, not meaningful content.**',
          '',
        ]
      : []),
    `Prepared ${r.createdAt} by site \`${r.siteId}\` (FGL ${r.appVersion}) from ${r.dataset.images} usable images in ${r.dataset.classes.length} classes.`,
    '',
    '## What will leave this computer',
    '',
    ...(r.release?.state === 'plan'
      ? [
          '**This is a plan: no noise has been drawn, no ε charged, and no package exists yet.** On approval the noise is drawn once, ε is charged in the site ledger and the machine-wide record (durably, before anything is sent), the package is written and its sha256 goes into the audit log. Approving this plan again sends that same package; it never draws fresh noise.',
          '',
          `- **At most ${r.outgoing.rows} conditioning rows** (the public bins whose noisy count reaches the threshold), tensor \`conditioning\` of shape [n, ${r.outgoing.shape.slice(1).join(', ')}] (${r.outgoing.dtype}), plus \`labels\` and \`counts\` (rounded noisy counts).`,
        ]
      : [
          `- **${r.outgoing.rows} conditioning rows**, tensor \`conditioning\` of shape [${r.outgoing.shape.join(', ')}] (${r.outgoing.dtype}), plus \`labels\` and \`counts\` (distinct patients/pictures each row represents).`,
          `- File \`package.safetensors\`: ${fmtBytes(r.outgoing.bytes ?? 0)}, sha256 \`${r.outgoing.sha256}\`.`,
          ...(r.release?.state === 'released'
            ? [
                `- Noise drawn once when ${r.release.approvers.join(' and ')} approved the plan (${r.release.releasedAt}); ε was charged before the package was written.`,
              ]
            : []),
        ]),
    '- No image, file name, caption text or per-image CLIP embedding is in the package.',
    `- Prompt mode \`${r.settings.promptMode}\`, aggregation \`${r.settings.aggregation}\`, k = ${r.settings.k}, singling-out ratio ≤ ${r.settings.singlingOutRatio}` +
      (r.dp
        ? `, differential privacy ε = ${r.dp.epsilon.toFixed(3)}, δ = ${r.dp.delta}.`
        : ', no differential-privacy noise.'),
    '',
    '## Rows',
    '',
    `k and DP count ${r.dataset.units.kind === 'image' ? 'distinct pictures (identical and near-duplicate files once)' : 'patients where the data names them, else distinct pictures'}: ${r.dataset.images} files are ${r.dataset.units.count} units.`,
    '',
    '| # | class | images | units | prompt | checks | sent |',
    '| ---: | --- | ---: | ---: | --- | --- | --- |',
    ...r.rows.map(
      (x) =>
        `| ${x.index} | ${x.label} | ${x.images} | ${x.units} | ${x.prompt ?? (x.prompts.length > 1 ? `mean of ${x.prompts.length} prompts` : '—')} | ${x.checks.map((c) => `${c.passed ? '✓' : '✗'} ${c.name}`).join(', ')} | ${x.blocked ? '**blocked**' : 'yes'} |`,
    ),
    '',
  ];
  if (blocked.length > 0) {
    lines.push('## Blocked rows', '');
    for (const b of blocked)
      lines.push(
        `- Row ${b.index} (${b.label}, ${b.images} images): ${b.checks
          .filter((c) => !c.passed)
          .map((c) => c.detail)
          .join('; ')}`,
      );
    lines.push('');
  }
  if (r.suppressed.length > 0) {
    lines.push('## Not sent (too few images)', '');
    for (const s of r.suppressed) lines.push(`- ${s.label}: ${s.images} images — ${s.reason}`);
    lines.push('');
  }
  if (r.phi) {
    lines.push(
      '## Caption scrub (PHI)',
      '',
      `${r.phi.captions} captions scrubbed: ${r.phi.redacted} redactions, ${r.phi.dropped} captions dropped.`,
    );
    const f = Object.entries(r.phi.findings);
    if (f.length > 0) lines.push('', f.map(([k, v]) => `- ${k}: ${v}`).join('\n'));
    lines.push('');
  }
  if (r.dp) {
    lines.push(
      '## Differential privacy',
      '',
      `**Guarantee:** ${r.dp.statement}`,
      '',
      `Rows are the study's public bins. Each ${r.dp.unit === 'image' ? 'distinct picture' : 'patient (or distinct picture)'} adds one vector, clipped to L2 norm ${r.dp.clip.toFixed(2)}, to one bin; per bin the mechanism adds Gaussian noise to the sum (σ ${r.dp.sigmaMax.toExponential(3)}) and to the count (σ ${r.dp.sigmaCount.toFixed(2)}), sends the bin only when its noisy count is ≥ ${r.dp.threshold.toFixed(1)}, and sends sum / count (analytic Gaussian mechanism).`,
      '',
      `Covered: ${r.dp.covered.join('; ')}.`,
      `Not covered: ${r.dp.notCovered.join('; ')}.`,
      '',
      `${r.release?.state === 'plan' ? 'Approving this plan spends' : 'This package spent'} ε = ${r.dp.epsilon.toFixed(3)} (δ = ${r.dp.delta}) on every image it read; the most any of them had spent before was ${r.dp.spentBefore.toFixed(3)}, now ${r.dp.totalAfter.toFixed(3)}${r.dp.budget !== null ? ` of a budget of ${r.dp.budget}` : ''}.`,
      '',
    );
  }
  lines.push('## Models and devices', '');
  lines.push(
    `- Conditioning encoder: ${r.models.encoder.id} (D = ${r.models.encoder.dim}, sha256 \`${r.models.encoder.digest}\`) on ${r.devices.encoder ?? '?'}`,
  );
  lines.push(
    `- CLIP: ${r.models.clip.id} (sha256 \`${r.models.clip.digest}\`) on ${r.devices.clip ?? '?'}`,
  );
  if (r.models.captioner)
    lines.push(`- Captioner: ${r.models.captioner.id} on ${r.devices.captioner ?? '?'}`);
  if (r.dataset.skipped.length > 0) {
    lines.push(
      '',
      '## Skipped files',
      '',
      ...r.dataset.skipped.map((s) => `- ${s.reason}: ${s.count}`),
    );
  }
  if (r.messages.length > 0) lines.push('', '## Notes', '', ...r.messages.map((m) => `- ${m}`));
  lines.push(
    '',
    r.release?.state === 'plan'
      ? `Up to ${r.rows.length} rows will be sent, decided by the noise drawn on approval.`
      : `${sent.length} of ${r.rows.length} rows will be sent.`,
    '',
  );
  lines.push(membershipInferenceAppendix());
  return lines.join('\n');
}
