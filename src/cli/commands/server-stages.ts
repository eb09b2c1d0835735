import { locateModelsFolder } from '../../core/models/model-folders';
import { createDiffusionStages } from '../../server/jobs/diffusion-round-stages';
import { createQueuedStages } from '../../server/jobs/queued-round-stages';
import type { StagesFactory } from './server-start';

/**
 * The real round stages for a models folder (clip/ + generator/, and encoder/ when the study's
 * conditioning encoder is apart from the generator): SD synthesis on ONNX Runtime and training on
 * tfjs. Without a models folder the server can take packages but not run rounds.
 */
export const diffusionStagesFactory: StagesFactory = async ({ modelsDir, queueUrl }) => {
  if (!modelsDir) return null;
  const models = await locateModelsFolder(modelsDir);
  const local = createDiffusionStages({
    generatorDir: models.generator,
    clipDir: models.clip,
    encoderDir: models.encoder,
    device: (process.env.FGL_DEVICE as 'auto' | 'cpu' | undefined) ?? 'auto',
  });
  // With a queue, synthesis goes to `fgl server worker`s; training stays here.
  return queueUrl ? createQueuedStages({ queueUrl, generatorDir: models.generator, local }) : local;
};
