import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { encoderDigest } from '../models/model-digest';
import { type DeviceChoice, createSession, inputDType, outputShape } from '../ort/execution-device';
import { tensorToFloat32 } from '../ort/tensor-float32';
import { clipInputIds, loadClipTokenizer } from './clip-tokenizer';

/** Stable Diffusion's text sequence length (CLIP tokenizer model_max_length). */
export const TEXT_SEQUENCE_LENGTH = 77;

/** The generator's own text encoder: prompts → conditioning embeddings (last_hidden_state). */
export type TextEncoder = {
  /** Hidden size D: 768 for SD 1.x, 1024 for SD 2.x / SD-Turbo. */
  dim: number;
  maxLength: typeof TEXT_SEQUENCE_LENGTH;
  /** encoderDigest of the generator folder: what the study's encoder sha256 is checked against. */
  digest: string;
  device: string;
  fallbackMessage?: string;
  /**
   * The ORT session `encode` runs: benchmarks time a raw `session.run` on this very session as
   * the floor (same options, provider, thread pool and weights in cache). Not for production use.
   */
  session: ort.InferenceSession;
  /** Row-major [B, 77, D] float32, B = prompts.length. */
  encode(prompts: readonly string[]): Promise<Float32Array>;
  dispose(): Promise<void>;
};

export type LoadTextEncoderOptions = { device: DeviceChoice; batchSize?: number };

const INPUT = 'input_ids';
const OUTPUT = 'last_hidden_state';

/** D from the graph's declared output shape, else text_encoder/config.json hidden_size. */
async function hiddenSize(
  session: ort.InferenceSession,
  generatorDir: string,
): Promise<number | null> {
  const d = outputShape(session, OUTPUT)[2];
  if (typeof d === 'number' && d > 0) return d;
  try {
    const config = JSON.parse(
      await readFile(path.join(generatorDir, 'text_encoder', 'config.json'), 'utf8'),
    ) as {
      hidden_size?: number;
    };
    return typeof config.hidden_size === 'number' ? config.hidden_size : null;
  } catch {
    return null;
  }
}

export async function loadTextEncoder(
  generatorDir: string,
  opts: LoadTextEncoderOptions,
): Promise<TextEncoder> {
  const digest = await encoderDigest(generatorDir);
  const tokenizer = await loadClipTokenizer(path.join(generatorDir, 'tokenizer'));
  const modelPath = path.join(generatorDir, 'text_encoder', 'model.onnx');
  const { session, device, fallbackMessage } = await createSession(modelPath, opts.device);
  const idType = inputDType(session, INPUT);
  if (idType !== 'int32' && idType !== 'int64') {
    await session.release();
    throw new Error(
      `${modelPath}: input_ids is ${idType}; a text encoder takes int32 or int64 token ids.`,
    );
  }
  const batchSize = opts.batchSize ?? 8;
  const L = TEXT_SEQUENCE_LENGTH;

  const run = async (prompts: readonly string[]): Promise<Float32Array> => {
    const ids = prompts.flatMap((p) => clipInputIds(tokenizer, p, L));
    const data =
      idType === 'int32' ? Int32Array.from(ids) : BigInt64Array.from(ids, (x) => BigInt(x));
    const feeds = { [INPUT]: new ort.Tensor(idType, data, [prompts.length, L]) };
    const out = await session.run(feeds, [OUTPUT]);
    const hidden = out[OUTPUT]!;
    const [b, l] = hidden.dims;
    if (hidden.dims.length !== 3 || b !== prompts.length || l !== L) {
      throw new Error(
        `${modelPath}: last_hidden_state has shape [${hidden.dims.join(', ')}], expected [${prompts.length}, ${L}, D].`,
      );
    }
    return tensorToFloat32(hidden);
  };

  const dim = (await hiddenSize(session, generatorDir)) ?? (await run([''])).length / L;

  return {
    dim,
    maxLength: L,
    digest,
    device,
    fallbackMessage,
    session,
    async encode(prompts) {
      const out = new Float32Array(prompts.length * L * dim);
      for (let i = 0; i < prompts.length; i += batchSize) {
        const part = await run(prompts.slice(i, i + batchSize));
        const n = Math.min(batchSize, prompts.length - i);
        if (part.length !== n * L * dim) {
          throw new Error(
            `${modelPath}: last_hidden_state has ${part.length} values for ${n} prompts, expected ${n}×${L}×${dim}.`,
          );
        }
        out.set(part, i * L * dim);
      }
      return out;
    },
    async dispose() {
      await session.release();
    },
  };
}
