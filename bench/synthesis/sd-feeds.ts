/**
 * UNet and VAE-decoder inputs for benchmarks that time raw `session.run` on SD graphs: in the
 * dtypes and shapes the graph declares (via the pipeline's own feed helpers), built once, outside
 * any timing.
 */
import type ort from 'onnxruntime-node';
import { inputDType, inputShape } from '../../src/core/ort/execution-device';
import { nodeFeeds } from '../../src/core/ort/float16';
import { floatFeed, timestepFeed } from '../../src/server/synthesis/ort-feeds';

const LATENT_CHANNELS = 4;
const TOKENS = 77;

/** One UNet call: `latents` [batch,4,h,h], `hidden` [batch,77,D] (row-major), one timestep for all rows. */
export function unetFeeds(
  unet: ort.InferenceSession,
  o: {
    batch: number;
    latent: number;
    dim: number;
    latents: Float32Array;
    hidden: Float32Array;
    timestep: number;
  },
): ort.InferenceSession.FeedsType {
  return nodeFeeds({
    sample: floatFeed(
      o.latents,
      inputDType(unet, 'sample'),
      [o.batch, LATENT_CHANNELS, o.latent, o.latent],
      'sample',
    ),
    timestep: timestepFeed(
      o.timestep,
      inputDType(unet, 'timestep'),
      inputShape(unet, 'timestep'),
      o.batch,
    ),
    encoder_hidden_states: floatFeed(
      o.hidden,
      inputDType(unet, 'encoder_hidden_states'),
      [o.batch, TOKENS, o.dim],
      'encoder_hidden_states',
    ),
  });
}

/** One VAE decode of `latents` [batch,4,h,h]. */
export function vaeFeeds(
  vae: ort.InferenceSession,
  o: { batch: number; latent: number; latents: Float32Array },
): ort.InferenceSession.FeedsType {
  return nodeFeeds({
    latent_sample: floatFeed(
      o.latents,
      inputDType(vae, 'latent_sample'),
      [o.batch, LATENT_CHANNELS, o.latent, o.latent],
      'latent_sample',
    ),
  });
}
