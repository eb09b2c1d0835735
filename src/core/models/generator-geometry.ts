import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createSession, inputShape } from '../ort/execution-device';

/** The VAE's spatial downsampling: an image of H × W pixels has H/8 × W/8 latents. */
export const VAE_FACTOR = 8;
/** SD 1.x/2.x's `vae.config.scaling_factor`, used when vae_decoder/config.json does not say (Olive exports have none). */
export const DEFAULT_VAE_SCALING_FACTOR = 0.18215;
/** SD 2.x base and SD-Turbo's native side, when neither a config nor the graph says. */
export const DEFAULT_IMAGE_SIZE = 512;

export type ImageSize = { size: number; source: string };

async function jsonNumber(file: string, key: string): Promise<number | null> {
  try {
    const v = (JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>)[key];
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null;
  } catch {
    return null;
  }
}

/**
 * A generator's native image side: unet/config.json `sample_size` × 8 when the folder has one,
 * else the UNet graph's declared `sample` height × 8 when it is fixed, else 512. Published ONNX
 * exports often ship no config.json (Olive) and symbolic spatial dims, so each step may be absent.
 */
export async function generatorImageSize(generatorDir: string): Promise<ImageSize> {
  const configFile = path.join(generatorDir, 'unet', 'config.json');
  const sample = await jsonNumber(configFile, 'sample_size');
  if (sample !== null) return { size: sample * VAE_FACTOR, source: `${configFile} sample_size` };
  const unetFile = path.join(generatorDir, 'unet', 'model.onnx');
  try {
    const { session } = await createSession(unetFile, 'cpu');
    try {
      const [, , h, w] = inputShape(session, 'sample');
      if (typeof h === 'number' && h > 0 && h === w)
        return { size: h * VAE_FACTOR, source: `${unetFile} input sample [.., ${h}, ${w}]` };
    } finally {
      await session.release();
    }
  } catch {
    // A graph CPU cannot load (CUDA-only ops) still has the default size; the server says why when it loads it.
  }
  return { size: DEFAULT_IMAGE_SIZE, source: 'default for SD 2.x / SD-Turbo (no unet/config.json, symbolic sample shape)' };
}
