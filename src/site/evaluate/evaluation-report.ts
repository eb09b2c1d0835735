import type { Metrics } from './classification-metrics';

export type EvaluationInfo = {
  studyId: string;
  modelVersion: number;
  dataset: string;
  device: string;
  createdAt: string;
  /** Printed on every report made with generated tiny models: their numbers mean nothing. */
  tinyModels?: boolean;
};

const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null, d = 3) => (x === null ? '—' : x.toFixed(d));
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const csvCell = (s: string | number) => {
  const t = String(s);
  return /[",\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
};

/** Per-class CSV (one row per class plus a macro row); spreadsheet-friendly. */
export function metricsCsv(m: Metrics): string {
  const rows = [['class', 'support', 'precision', 'recall', 'f1', 'auroc']];
  for (const c of m.perClass) rows.push([c.name, String(c.support), num(c.precision, 4), num(c.recall, 4), num(c.f1, 4), num(c.auroc, 4)]);
  rows.push(['(macro)', String(m.samples), '', num(m.balancedAccuracy, 4), num(m.macroF1, 4), num(m.macroAuroc, 4)]);
  return rows.map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

export function metricsMarkdown(m: Metrics, info: EvaluationInfo): string {
  const classes = m.perClass.map((c) => c.name);
  const lines = [
    `# Evaluation of model v${info.modelVersion} (study ${info.studyId})`,
    '',
    ...(info.tinyModels ? ['> **Tiny test models were used: these numbers prove the plumbing, not accuracy (expect chance level).**', ''] : []),
    `Dataset: \`${info.dataset}\` — ${m.samples} labelled images, evaluated offline on ${info.device} at ${info.createdAt}.`,
    '',
    '| metric | value |',
    '| --- | --- |',
    `| accuracy | ${pct(m.accuracy)} |`,
    `| balanced accuracy | ${pct(m.balancedAccuracy)} |`,
    `| macro F1 | ${num(m.macroF1)} |`,
    `| macro one-vs-rest AUROC | ${num(m.macroAuroc)} |`,
    `| expected calibration error | ${num(m.ece)} |`,
    '',
    '## Per class',
    '',
    '| class | support | precision | recall | F1 | AUROC |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...m.perClass.map((c) => `| ${c.name} | ${c.support} | ${num(c.precision)} | ${num(c.recall)} | ${num(c.f1)} | ${num(c.auroc)} |`),
    '',
    '## Confusion matrix (rows: true class, columns: predicted)',
    '',
    `| | ${classes.join(' | ')} |`,
    `| --- | ${classes.map(() => '---:').join(' | ')} |`,
    ...m.confusion.map((row, i) => `| **${classes[i]}** | ${row.join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}

/** A self-contained HTML page (no scripts, no external assets) for people who don't read Markdown. */
export function metricsHtml(m: Metrics, info: EvaluationInfo): string {
  const max = Math.max(1, ...m.confusion.flat());
  const cell = (v: number) => `<td style="background:rgba(37,99,235,${(v / max).toFixed(3)});color:${v / max > 0.5 ? '#fff' : '#111'}">${v}</td>`;
  return `<!doctype html><html lang="en"><meta charset="utf-8"><title>FGL evaluation v${info.modelVersion}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}.warn{background:#fff3cd;padding:.5em 1em;border-left:4px solid #e0a800}</style>
<h1>Evaluation of model v${info.modelVersion} <small>(study ${esc(info.studyId)})</small></h1>
${info.tinyModels ? '<p class="warn"><strong>Tiny test models were used: these numbers prove the plumbing, not accuracy (expect chance level).</strong></p>' : ''}
<p>Dataset <code>${esc(info.dataset)}</code>: ${m.samples} labelled images, evaluated offline on ${esc(info.device)} at ${esc(info.createdAt)}.</p>
<table><tr><th>accuracy</th><th>balanced accuracy</th><th>macro F1</th><th>macro AUROC</th><th>ECE</th></tr>
<tr><td>${pct(m.accuracy)}</td><td>${pct(m.balancedAccuracy)}</td><td>${num(m.macroF1)}</td><td>${num(m.macroAuroc)}</td><td>${num(m.ece)}</td></tr></table>
<h2>Per class</h2><table><tr><th>class</th><th>support</th><th>precision</th><th>recall</th><th>F1</th><th>AUROC</th></tr>
${m.perClass.map((c) => `<tr><td>${esc(c.name)}</td><td>${c.support}</td><td>${num(c.precision)}</td><td>${num(c.recall)}</td><td>${num(c.f1)}</td><td>${num(c.auroc)}</td></tr>`).join('\n')}</table>
<h2>Confusion matrix</h2><p>Rows: true class; columns: predicted.</p><table><tr><th></th>${m.perClass.map((c) => `<th>${esc(c.name)}</th>`).join('')}</tr>
${m.confusion.map((row, i) => `<tr><th>${esc(m.perClass[i]!.name)}</th>${row.map(cell).join('')}</tr>`).join('\n')}</table>
</html>
`;
}

/** Two model versions on the same data, side by side, with the change. */
export function compareMarkdown(a: { info: EvaluationInfo; metrics: Metrics }, b: { info: EvaluationInfo; metrics: Metrics }): string {
  const row = (name: string, x: number | null, y: number | null, fmt: (v: number | null) => string) =>
    `| ${name} | ${fmt(x)} | ${fmt(y)} | ${x === null || y === null ? '—' : `${y - x >= 0 ? '+' : ''}${((y - x) * 100).toFixed(1)} pt`} |`;
  return [
    `# Model v${a.info.modelVersion} vs v${b.info.modelVersion} on \`${b.info.dataset}\``,
    '',
    `| metric | v${a.info.modelVersion} | v${b.info.modelVersion} | change |`,
    '| --- | ---: | ---: | ---: |',
    row('accuracy', a.metrics.accuracy, b.metrics.accuracy, pct),
    row('balanced accuracy', a.metrics.balancedAccuracy, b.metrics.balancedAccuracy, pct),
    row('macro F1', a.metrics.macroF1, b.metrics.macroF1, pct),
    row('macro AUROC', a.metrics.macroAuroc, b.metrics.macroAuroc, pct),
    row('ECE (lower is better)', a.metrics.ece, b.metrics.ece, pct),
    '',
  ].join('\n');
}
