import path from 'node:path';
import {
  type Command,
  LABEL_ATTRIBUTE_OPTION,
  UsageError,
  intOption,
  labelAttributeOption,
  numberOption,
  optionalString,
} from '../command';
import { DEFAULT_MAX_PIXELS } from '../../core/image/decode-image';
import { DEFAULT_K, scanDataset } from '../../site/dataset/scan-dataset';
import type { ScanResult } from '../../site/dataset/scan-result';

const SHOW_PER_REASON = 5;
const PROGRESS_EVERY_MS = 2000;

function humanReport(r: ScanResult, k: number): string {
  const lines: string[] = [];
  lines.push(
    `Dataset ${r.root} (${r.layout === 'folder' ? 'one folder per class' : 'manifest'})`,
    '',
  );
  const width = Math.max(5, ...r.classes.map((c) => c.name.length));
  lines.push(`${'class'.padEnd(width)}  images`);
  for (const c of r.classes) lines.push(`${c.name.padEnd(width)}  ${String(c.count).padStart(6)}`);
  lines.push(`${'total'.padEnd(width)}  ${String(r.images).padStart(6)}`, '');

  if (r.skipped.length === 0) lines.push('Skipped: none.');
  else {
    lines.push(`Skipped ${r.skipped.length} ${r.skipped.length === 1 ? 'entry' : 'entries'}:`);
    const byReason = new Map<string, ScanResult['skipped']>();
    for (const s of r.skipped) {
      const list = byReason.get(s.reason);
      if (list) list.push(s);
      else byReason.set(s.reason, [s]);
    }
    for (const [reason, items] of [...byReason].sort((a, b) => b[1].length - a[1].length)) {
      lines.push(`  ${reason} (${items.length})`);
      for (const s of items.slice(0, SHOW_PER_REASON)) lines.push(`    ${s.path}: ${s.detail}`);
      if (items.length > SHOW_PER_REASON)
        lines.push(`    … and ${items.length - SHOW_PER_REASON} more (--json lists all)`);
    }
  }
  const mismatched = r.usable.filter((u) => u.note === 'extension_mismatch');
  if (mismatched.length > 0) {
    const shown = mismatched
      .slice(0, SHOW_PER_REASON)
      .map((u) => `${u.path} (${u.format})`)
      .join(', ');
    lines.push(
      '',
      `${mismatched.length} usable image(s) named as another format, used by content: ${shown}${mismatched.length > SHOW_PER_REASON ? ', …' : ''}`,
    );
  }
  lines.push('');
  if (r.smallClasses.length === 0) lines.push(`Every class has at least k=${k} usable images.`);
  else
    lines.push(
      `Small classes (fewer than k=${k} usable images): ${r.smallClasses.map((c) => `${c.name} (${c.count})`).join(', ')}.`,
      'A class row must stand for at least k images: add images, merge these classes, or leave them out of the study.',
    );
  return lines.join('\n');
}

export const siteScanCommand: Command = {
  path: ['site', 'scan'],
  summary: 'Check a dataset: classes, usable images, and why files are skipped',
  description: [
    'Scans DIR, either one sub-folder per class (ImageFolder), the files a --manifest lists, or',
    'every DICOM file labelled by --label-attribute (or a manifest keyed by sop_instance_uid /',
    'study_instance_uid), and',
    'verifies every image by decoding it completely (truncated and damaged files are caught).',
    'Reads only: nothing is written into DIR. Hidden files, files directly in DIR, links that loop',
    'and anything that is not a JPEG, PNG, WebP, TIFF, BMP, GIF or decodable DICOM image (by content)',
    'are listed as skipped',
    'with the reason. Exit code 1 when no usable image was found.',
  ].join('\n'),
  positionals: 'DIR',
  options: {
    manifest: {
      type: 'string',
      value: 'FILE',
      description:
        "CSV (header `path,label`) or JSON [{path,label}]; paths relative to the manifest's folder",
    },
    k: {
      type: 'string',
      value: 'N',
      description: `flag classes with fewer than N usable images (default ${DEFAULT_K})`,
    },
    'label-attribute': LABEL_ATTRIBUTE_OPTION,
    'max-pixels': {
      type: 'string',
      value: 'N',
      description: `refuse images with more pixels than N (decompression-bomb guard, default ${DEFAULT_MAX_PIXELS})`,
    },
  },
  examples: [
    'fgl site scan ./chest-xray',
    'fgl site scan ./data --manifest ./data/labels.csv --k 10 --json',
  ],
  async run(ctx) {
    const [dir, ...extra] = ctx.positionals;
    if (!dir)
      throw new UsageError(
        'DIR is required',
        'Give the dataset folder, e.g. `fgl site scan ./chest-xray`',
      );
    if (extra.length > 0)
      throw new UsageError(`unexpected arguments: ${extra.join(' ')}`, 'Quote paths with spaces');
    const k = intOption(ctx, 'k', DEFAULT_K, 1);
    const maxPixels = numberOption(ctx, 'max-pixels', DEFAULT_MAX_PIXELS)!;
    if (maxPixels < 1) throw new UsageError('--max-pixels must be ≥ 1');
    const manifestArg = optionalString(ctx, 'manifest');
    // On the command line a manifest path is relative to the working directory, as users expect.
    const manifest = manifestArg ? path.resolve(manifestArg) : undefined;

    let lastInfo = Date.now();
    const result = await scanDataset(dir, {
      manifest,
      ...labelAttributeOption(ctx),
      k,
      maxPixels,
      signal: ctx.signal,
      onProgress: (p) => {
        const now = Date.now();
        if (now - lastInfo < PROGRESS_EVERY_MS) return;
        lastInfo = now;
        const of = p.total === null ? '' : `/${p.total}`;
        const eta = p.etaSec === null ? '' : `, about ${Math.ceil(p.etaSec)} s left`;
        ctx.out.info(`scanned ${p.done}${of} (${p.ratePerSec.toFixed(0)}/s${eta})`);
      },
    });

    ctx.out.result(
      {
        root: result.root,
        layout: result.layout,
        classes: result.classes,
        images: result.images,
        skipped: result.skipped.map((s) => ({ path: s.path, reason: s.reason })),
        k,
        smallClasses: result.smallClasses,
        extensionMismatch: result.usable
          .filter((u) => u.note === 'extension_mismatch')
          .map((u) => ({ path: u.path, format: u.format })),
      },
      () => humanReport(result, k),
    );
    if (result.images === 0) {
      ctx.out.warn(`no usable image in ${result.root}; see the skipped list above`);
      return 1;
    }
    return 0;
  },
};
