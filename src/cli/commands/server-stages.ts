import { locateModelsFolder } from '../../core/models/model-folders';
import { createDiffusionStages } from '../../server/jobs/diffusion-round-stages';
import type { StagesFactory } from './server-start';

/**
 * The real round stages for a models folder (clip/ + generator/, and encoder/ when the study's
 * conditioning encoder is apart from the generator): SD synthesis on ONNX Runtime and training on
 * tfjs. Without a models folder the server can take packages but not run rounds.
 */
export const diffusionStagesFactory: StagesFactory = async ({ modelsDir }) => {
  if (!modelsDir) return null;
  const models = await locateModelsFolder(modelsDir);
  return createDiffusionStages({
    generatorDir: models.generator,
    clipDir: models.clip,
    encoderDir: models.encoder,
    device: (process.env.FGL_DEVICE as 'auto' | 'cpu' | undefined) ?? 'auto',
  });
};
