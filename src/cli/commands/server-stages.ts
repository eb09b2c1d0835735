import path from 'node:path';
import { createDiffusionStages } from '../../server/jobs/diffusion-round-stages';
import { createQueuedStages } from '../../server/jobs/queued-round-stages';
import type { StagesFactory } from './server-start';

/**
 * The real round stages for a models folder (clip/ + generator/): SD synthesis on ONNX Runtime
 * and training on tfjs. Without a models folder the server can take packages but not run rounds.
 */
export const diffusionStagesFactory: StagesFactory = async ({ modelsDir, queueUrl }) => {
  if (!modelsDir) return null;
  const generatorDir = path.join(modelsDir, 'generator');
  const local = createDiffusionStages({
    generatorDir,
    clipDir: path.join(modelsDir, 'clip'),
    device: (process.env.FGL_DEVICE as 'auto' | 'cpu' | undefined) ?? 'auto',
  });
  // With a queue, synthesis goes to `fgl server worker`s; training stays here.
  return queueUrl ? createQueuedStages({ queueUrl, generatorDir, local }) : local;
};
