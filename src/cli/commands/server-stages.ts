import { locateModelsFolder } from '../../core/models/model-folders';
import { createDiffusionStages } from '../../server/jobs/diffusion-round-stages';
import { createQueuedStages } from '../../server/jobs/queued-round-stages';
import { DEVICE_CHOICES, DeviceChoice } from '../../shared/device';
import { UsageError } from '../command';
import type { StagesFactory } from './server-start';

/** `FGL_DEVICE` (unset or empty: auto), checked against the one device list. */
export function deviceFromEnv(value: string | undefined): DeviceChoice {
  const parsed = DeviceChoice.safeParse(value || 'auto');
  if (!parsed.success)
    throw new UsageError(`FGL_DEVICE must be one of ${DEVICE_CHOICES.join(', ')} (got ${value})`, 'Unset it to let the server pick (auto).');
  return parsed.data;
}

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
    device: deviceFromEnv(process.env.FGL_DEVICE),
  });
  // With a queue, synthesis goes to `fgl server worker`s; training stays here.
  return queueUrl ? createQueuedStages({ queueUrl, generatorDir: models.generator, local }) : local;
};
