import path from 'node:path';
import { createDiffusionStages } from '../../server/jobs/diffusion-round-stages';
import type { StagesFactory } from './server-start';

/**
 * The real round stages for a models folder (clip/ + generator/): SD synthesis on ONNX Runtime
 * and training on tfjs. Without a models folder the server can take packages but not run rounds.
 */
export const diffusionStagesFactory: StagesFactory = async ({ modelsDir }) =>
  modelsDir
    ? createDiffusionStages({
        generatorDir: path.join(modelsDir, 'generator'),
        clipDir: path.join(modelsDir, 'clip'),
        device: (process.env.FGL_DEVICE as 'auto' | 'cpu' | undefined) ?? 'auto',
      })
    : null;
