import { JOB_NAMES } from '../../../shared/site-api';
import { scanDataset } from '../../dataset/scan-dataset';
import { SiteApiFailure } from '../site-api-failure';
import type { HandlerSlice } from './site-context';

/** Datasets: scanning a folder (read-only) for usable images per class. */
export function datasetsHandlers() {
  return {
    async 'datasets.pickFolder'() {
      throw new SiteApiFailure(
        'not_available',
        'There is no native folder picker here.',
        'Type the folder path instead.',
      );
    },
    async 'datasets.scan'(req, ctx) {
      const r = await scanDataset(req.dir, {
        ...(req.k ? { k: req.k } : {}),
        signal: ctx.signal,
        onProgress: (p) =>
          ctx.emit({ type: 'progress', job: JOB_NAMES.scan, progress: { ...p, stage: 'scan' } }),
      });
      return {
        root: r.root,
        layout: r.layout,
        images: r.images,
        classes: r.classes,
        skipped: r.skipped.map((s) => ({ path: s.path, reason: s.reason, detail: s.detail })),
        smallClasses: r.smallClasses,
      };
    },
  } satisfies HandlerSlice<'datasets.pickFolder' | 'datasets.scan'>;
}
