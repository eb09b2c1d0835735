import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../../src/site/evaluate/classification-metrics';
import { compareMarkdown, metricsCsv, metricsHtml, metricsMarkdown } from '../../../src/site/evaluate/evaluation-report';

const m = computeMetrics(
  [
    [0.9, 0.1],
    [0.2, 0.8],
    [0.6, 0.4],
  ],
  [0, 1, 1],
  ['cat, "tabby"', '<dog>'],
);
const info = { studyId: 's', modelVersion: 2, dataset: '/data', device: 'cpu', createdAt: '2026-01-01T00:00:00Z' };

describe('evaluation reports', () => {
  it('CSV quotes class names with commas and quotes and has a row per class', () => {
    const csv = metricsCsv(m).trim().split('\n');
    expect(csv).toHaveLength(4);
    expect(csv[1]!.startsWith('"cat, ""tabby""",1,')).toBe(true);
  });
  it('Markdown carries the numbers and a tiny-model warning when asked', () => {
    const md = metricsMarkdown(m, { ...info, tinyModels: true });
    expect(md).toContain('| accuracy | 66.7% |');
    expect(md).toContain('Tiny test models');
    expect(md).toContain('| **<dog>** | 1 | 1 |');
  });
  it('HTML escapes class names', () => {
    const html = metricsHtml(m, info);
    expect(html).toContain('&lt;dog&gt;');
    expect(html).not.toContain('<dog>');
  });
  it('comparison shows the change in points', () => {
    const better = computeMetrics([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]], [0, 1, 1], ['a', 'b']);
    expect(compareMarkdown({ info, metrics: m }, { info: { ...info, modelVersion: 3 }, metrics: better })).toContain('| accuracy | 66.7% | 100.0% | +33.3 pt |');
  });
});
