import type { PaperResult, PaperRow } from './paper-experiment';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
export const humanBytes = (b: number) => (b === 0 ? '0' : b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(1)} kB`);

/** One row per (split, model, method): accuracy, balanced accuracy, rounds and bytes moved. */
export function paperTable(r: PaperResult): string {
  const head = ['split', 'model', 'method', 'accuracy', 'balanced acc.', 'rounds', 'bytes moved'];
  const rows = r.rows.map((x) => [x.split, x.model, x.method, pct(x.accuracy), pct(x.balancedAccuracy), String(x.rounds), humanBytes(x.bytes)]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]) => '| ' + row.map((c, i) => (i < 3 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ') + ' |';
  return [fmt(head), '| ' + w.map((n, i) => (i < 3 ? '-'.repeat(n) : '-'.repeat(n - 1) + ':')).join(' | ') + ' |', ...rows.map(fmt)].join('\n');
}

const COLOURS = ['#4c72b0', '#dd8452', '#55a868', '#c44e52', '#8172b3', '#937860'];

const group = (x: PaperRow) => `${x.split} ${x.model}`;

/** Grouped bar chart (SVG): accuracy per method, one group per (split, model); machine and date in the caption. */
export function paperPlot(r: PaperResult, caption: string): string {
  const splits = [...new Set(r.rows.map(group))];
  const methods = [...new Set(r.rows.map((x) => x.method))];
  const W = Math.max(760, 60 + splits.length * 150);
  const H = 360;
  const left = 50;
  const top = 30;
  const plotH = 230;
  const groupW = (W - left - 20) / splits.length;
  const barW = (groupW - 20) / methods.length;
  const y = (a: number) => top + plotH * (1 - a);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="18" font-size="13">Accuracy on the sites' held-out Fashion-MNIST test images (mini bundle, 5 sites)</text>`,
  ];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${left}" x2="${W - 20}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`, `<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${t * 100}%</text>`);
  }
  splits.forEach((s, g) => {
    const x0 = left + g * groupW + 10;
    methods.forEach((m, i) => {
      const row = r.rows.find((x: PaperRow) => group(x) === s && x.method === m);
      if (!row) return;
      parts.push(`<rect x="${(x0 + i * barW).toFixed(1)}" y="${y(row.accuracy).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(plotH * row.accuracy).toFixed(1)}" fill="${COLOURS[i % COLOURS.length]}"><title>${s} ${m}: ${pct(row.accuracy)}</title></rect>`);
    });
    parts.push(`<text x="${(x0 + (groupW - 20) / 2).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle">${s}</text>`);
  });
  methods.forEach((m, i) => {
    const x = left + (i % 3) * 230;
    const yy = top + plotH + 38 + Math.floor(i / 3) * 16;
    parts.push(`<rect x="${x}" y="${yy - 9}" width="10" height="10" fill="${COLOURS[i % COLOURS.length]}"/>`, `<text x="${x + 14}" y="${yy}">${m}</text>`);
  });
  parts.push(`<text x="${left}" y="${H - 8}" fill="#555">${caption.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`, '</svg>');
  return parts.join('\n') + '\n';
}
