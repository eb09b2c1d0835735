import path from 'node:path';
import { env } from '@huggingface/transformers';
import { DEFAULT_REMOTE_HOST } from './model-store';

export type TransformersEnvOptions = {
  cacheDir: string;
  allowNetwork: boolean;
  remoteHost?: string;
};

/**
 * Points transformers.js at our model cache and network policy. Our own code loads models from
 * absolute folders that ModelStore resolved, with `local_files_only: true`, so transformers.js
 * never fetches anything itself; this only governs any other use of it in the process.
 */
export function configureTransformers(opts: TransformersEnvOptions): void {
  env.allowLocalModels = true;
  env.allowRemoteModels = opts.allowNetwork;
  // transformers.js's own layout differs from ours (`<id>/<file>` for main), so it gets a subfolder.
  env.localModelPath = path.join(path.resolve(opts.cacheDir), '.transformers');
  env.cacheDir = path.join(path.resolve(opts.cacheDir), '.transformers');
  env.useFSCache = true;
  env.useBrowserCache = false;
  env.remoteHost = `${(opts.remoteHost ?? DEFAULT_REMOTE_HOST).replace(/\/+$/, '')}/`;
  env.remotePathTemplate = '{model}/resolve/{revision}/';
}

/** Options every transformers.js `from_pretrained` / `pipeline` call of ours passes. */
export const LOCAL_ONLY = { local_files_only: true } as const;
