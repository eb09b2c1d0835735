import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';

import type { DeviceChoice } from '../../shared/device';

/** What the user asks for (`--device`): the one list lives in `src/shared/device.ts`. */
export { DEVICE_CHOICES, type DeviceChoice } from '../../shared/device';
/** An onnxruntime-node execution provider; also the device name recorded in reports. */
export type OrtProvider = Exclude<DeviceChoice, 'auto'>;

export type SessionOptions = Omit<ort.InferenceSession.SessionOptions, 'executionProviders'>;
export type CreatedSession = {
  session: ort.InferenceSession;
  device: OrtProvider;
  fallbackMessage?: string;
};
export type ResolvedDevice = { device: OrtProvider; fallbackMessage?: string };

export const CUDA_INSTALL_COMMAND = 'npm install-scripts approve onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node';

/** The providers to try, best first. `auto` takes the platform's GPU provider, then CPU. */
export function candidateProviders(
  choice: DeviceChoice,
  platform: NodeJS.Platform = process.platform,
): OrtProvider[] {
  if (choice !== 'auto') return [choice];
  switch (platform) {
    case 'linux':
      return ['cuda', 'cpu'];
    case 'win32':
      return ['dml', 'cpu'];
    case 'darwin':
      return ['coreml', 'cpu'];
    default:
      return ['cpu'];
  }
}

/** How to get a provider working, for error and fallback messages. */
export function providerHint(provider: OrtProvider): string {
  switch (provider) {
    case 'cuda':
      return `install ORT's CUDA provider with \`${CUDA_INSTALL_COMMAND}\` (needs an NVIDIA driver, CUDA 12 and cuDNN 9)`;
    case 'dml':
      return 'DirectML needs Windows with a DirectX 12 GPU';
    case 'coreml':
      return 'CoreML needs macOS';
    case 'webgpu':
      return 'WebGPU needs a GPU adapter (Vulkan on Linux, D3D12 on Windows, Metal on macOS)';
    case 'cpu':
      return 'the CPU provider ships with onnxruntime-node; reinstall it (npm ci)';
  }
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.trim().slice(0, 200);
}

function fallbackLine(
  failed: { provider: OrtProvider; reason: string }[],
  used: OrtProvider,
): string | undefined {
  if (failed.length === 0) return undefined;
  const what = failed.map((f) => `${f.provider} (${f.reason})`).join('; ');
  const hints = failed.map((f) => providerHint(f.provider)).join('; ');
  return `GPU execution provider unavailable: ${what}. Running on ${used}. To use the GPU: ${hints}.`;
}

function unavailableError(provider: OrtProvider, reason: string): Error {
  return new Error(
    `The ${provider} execution provider could not be used (${reason}). To fix: ${providerHint(provider)}; ` +
      `or choose --device auto (falls back to CPU) or --device cpu.`,
  );
}

/**
 * A graph ONNX Runtime's CPU provider cannot run: it uses an operator with no CPU kernel (typically
 * a com.microsoft contrib op such as GroupNorm or NhwcConv that ORT's transformers optimizer puts
 * into models exported for CUDA, as onnxruntime/sd-turbo's card says).
 */
export class NeedsCudaError extends Error {
  constructor(
    readonly modelPath: string,
    readonly operator: string,
  ) {
    super(
      `${modelPath} needs CUDA: its graph uses ${operator}, an ONNX Runtime operator with no CPU kernel ` +
        `(it was optimized for CUDA), and this device is CPU. Use a CPU-portable export of the same model ` +
        `(fp32, or fp16 with fp32 inputs/outputs, exported without the CUDA optimizer), or run it on a machine with ` +
        `an NVIDIA GPU (--device cuda; ${CUDA_INSTALL_COMMAND}).`,
    );
    this.name = 'NeedsCudaError';
  }
}

/** The NeedsCudaError a CPU session failure means, if it is a missing CPU kernel. */
function needsCuda(modelPath: string, err: unknown): NeedsCudaError | null {
  const m = /Could not find an implementation for (\S+?)\((\d+)\) node/.exec(err instanceof Error ? err.message : String(err));
  return m ? new NeedsCudaError(modelPath, `${m[1]} (opset ${m[2]})`) : null;
}

let cudaInstalled: boolean | undefined;

/** Whether onnxruntime-node's CUDA provider library sits beside its binding (ONNXRUNTIME_NODE_INSTALL=cuda12). */
export function cudaProviderInstalled(): boolean {
  if (cudaInstalled !== undefined) return cudaInstalled;
  try {
    const pkg = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const bin = path.join(pkg, 'bin');
    cudaInstalled = readdirSync(bin, { recursive: true }).some((f) => /libonnxruntime_providers_cuda\.so/.test(String(f)));
  } catch {
    cudaInstalled = false;
  }
  return cudaInstalled;
}

async function tryProviders<T>(
  choice: DeviceChoice,
  platform: NodeJS.Platform,
  attempt: (provider: OrtProvider) => Promise<T>,
): Promise<{ value: T; device: OrtProvider; fallbackMessage?: string }> {
  const failed: { provider: OrtProvider; reason: string }[] = [];
  for (const provider of candidateProviders(choice, platform)) {
    // Without the CUDA provider library ORT fails anyway, after printing a native error line;
    // checking for the file first keeps `auto` quiet on CPU-only installs.
    if (provider === 'cuda' && choice === 'auto' && platform === process.platform && !cudaProviderInstalled()) {
      failed.push({ provider, reason: 'libonnxruntime_providers_cuda is not installed' });
      continue;
    }
    try {
      const value = await attempt(provider);
      return { value, device: provider, fallbackMessage: fallbackLine(failed, provider) };
    } catch (err) {
      // The provider works; the model does not run on it. No other provider in the list can help.
      if (err instanceof NeedsCudaError) throw err;
      failed.push({ provider, reason: firstLine(err) });
    }
  }
  const last = failed.at(-1)!;
  throw unavailableError(last.provider, last.reason);
}

/**
 * An ORT session on the best provider `choice` allows. `auto` never fails for want of a GPU: it
 * falls back to CPU and says so in `fallbackMessage` (one line, for the log and the report). An
 * explicit GPU choice that cannot be honoured is an error, so a user who asked for the GPU knows.
 */
export async function createSession(
  modelPath: string,
  choice: DeviceChoice,
  opts: { sessionOptions?: SessionOptions; platform?: NodeJS.Platform } = {},
): Promise<CreatedSession> {
  const { value, device, fallbackMessage } = await tryProviders(
    choice,
    opts.platform ?? process.platform,
    (provider) =>
      ort.InferenceSession.create(modelPath, {
        ...opts.sessionOptions,
        executionProviders: [provider],
      }).catch((err: unknown) => {
        throw (provider === 'cpu' ? needsCuda(modelPath, err) : null) ?? err;
      }),
  );
  return { session: value, device, fallbackMessage };
}

let probeModel: Uint8Array | null = null;

/** A one-node Identity graph: enough to learn whether a provider loads, in microseconds. */
function probeModelBytes(): Uint8Array {
  const { onnx } = onnxProto;
  probeModel ??= onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      producerName: 'fgl-device-probe',
      graph: {
        name: 'probe',
        node: [{ opType: 'Identity', input: ['x'], output: ['y'] }],
        input: [
          { name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } },
        ],
        output: [
          { name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } },
        ],
      },
    }),
  ).finish();
  return probeModel;
}

const probed = new Map<string, Promise<ResolvedDevice>>();

/**
 * The provider `choice` resolves to on this machine, found by loading a tiny probe graph (memoised
 * per process). Used where a library creates the sessions itself (transformers.js), which would
 * otherwise crash on a provider whose library is missing.
 */
export function resolveDevice(
  choice: DeviceChoice,
  platform: NodeJS.Platform = process.platform,
): Promise<ResolvedDevice> {
  const key = `${choice}:${platform}`;
  let result = probed.get(key);
  if (!result) {
    result = tryProviders(choice, platform, async (provider) => {
      const session = await ort.InferenceSession.create(probeModelBytes(), {
        executionProviders: [provider],
      });
      await session.release();
    }).then(({ device, fallbackMessage }) => ({ device, fallbackMessage }));
    // A failed probe is not cached: the user may fix the install and retry in the same process.
    result.catch(() => probed.delete(key));
    probed.set(key, result);
  }
  return result;
}

/** transformers.js `device` option for a resolved provider (the names coincide for onnxruntime-node). */
export type TransformersDevice = 'cpu' | 'cuda' | 'dml' | 'coreml' | 'webgpu';
export function transformersDevice(device: OrtProvider): TransformersDevice {
  return device;
}

function tensorMetadata(
  list: readonly ort.InferenceSession.ValueMetadata[],
  name: string,
  kind: 'input' | 'output',
): ort.InferenceSession.TensorValueMetadata {
  const meta = list.find((m) => m.name === name);
  if (!meta) {
    throw new Error(
      `The model has no ${kind} named "${name}" (it has: ${list.map((m) => m.name).join(', ')}).`,
    );
  }
  if (!meta.isTensor) throw new Error(`The model's ${kind} "${name}" is not a tensor.`);
  return meta;
}

/** The element type a model declares for an input (e.g. 'int32' vs 'int64' ids, 'float16' vs 'float32' latents). */
export function inputDType(session: ort.InferenceSession, name: string): ort.Tensor.Type {
  return tensorMetadata(session.inputMetadata, name, 'input').type;
}

export function outputDType(session: ort.InferenceSession, name: string): ort.Tensor.Type {
  return tensorMetadata(session.outputMetadata, name, 'output').type;
}

/** Declared shape: numbers for fixed dimensions, strings for symbolic ones. */
export function inputShape(
  session: ort.InferenceSession,
  name: string,
): ReadonlyArray<number | string> {
  return tensorMetadata(session.inputMetadata, name, 'input').shape;
}

export function outputShape(
  session: ort.InferenceSession,
  name: string,
): ReadonlyArray<number | string> {
  return tensorMetadata(session.outputMetadata, name, 'output').shape;
}
