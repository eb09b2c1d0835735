import type * as TfModule from '@tensorflow/tfjs';
import { installFastConvBackpropFilter } from './cpu-conv-backprop-filter';

/** The tfjs namespace, whichever package provided it (tfjs-node-gpu re-exports all of tfjs). */
export type Tf = typeof TfModule;

export type TfBackendName = 'tensorflow' | 'cpu';

export interface LoadedTf {
  tf: Tf;
  /** 'tensorflow' = libtensorflow through @tensorflow/tfjs-node-gpu; 'cpu' = tfjs's pure-JS backend. */
  backend: TfBackendName;
  /** One line saying which backend was chosen and why; also what was logged. */
  message: string;
}

// A variable keeps TypeScript and bundlers from resolving an optional package that is usually absent.
const GPU_PACKAGE: string = '@tensorflow/tfjs-node-gpu';

let loading: Promise<LoadedTf> | null = null;

async function tryGpuPackage(): Promise<{ tf: Tf } | { error: string }> {
  try {
    const mod = (await import(GPU_PACKAGE)) as { default?: Tf } & Partial<Tf>;
    // tfjs-node-gpu is CommonJS: its exports object arrives as `default`.
    const tf = (mod.default ?? mod) as Tf;
    if (typeof tf.sequential !== 'function')
      return { error: `${GPU_PACKAGE} loaded but does not export tfjs` };
    await tf.ready();
    if (tf.getBackend() !== 'tensorflow')
      return { error: `${GPU_PACKAGE} loaded but its backend is '${tf.getBackend()}'` };
    return { tf };
  } catch (e) {
    const first = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
    return { error: first };
  }
}

async function load(): Promise<LoadedTf> {
  const gpu = await tryGpuPackage();
  if ('tf' in gpu) {
    return {
      tf: gpu.tf,
      backend: 'tensorflow',
      message: `tfjs backend: tensorflow (${GPU_PACKAGE} loaded; libtensorflow uses CUDA when it finds a GPU)`,
    };
  }
  const tf = (await import('@tensorflow/tfjs')) as Tf;
  await tf.setBackend('cpu');
  await tf.ready();
  // The CPU backend prints a multi-line "install tfjs-node" banner on first use; our one log line
  // already says that, so take the first write with PROD (which mutes tfjs warnings) briefly on.
  const prod = tf.env().getBool('PROD');
  tf.env().set('PROD', true);
  tf.scalar(0).dispose();
  tf.env().set('PROD', prod);
  installFastConvBackpropFilter(tf);
  return {
    tf,
    backend: 'cpu',
    message:
      `tfjs backend: cpu (pure JavaScript, slow for CNNs) because ${GPU_PACKAGE} did not load: ${gpu.error}. ` +
      `For GPU training install it on a machine with CUDA 11.2 + cuDNN 8 (npm install ${GPU_PACKAGE}).`,
  };
}

/**
 * Loads tfjs once per process: tfjs-node-gpu when it loads, else @tensorflow/tfjs on the CPU
 * backend (never wasm: it lacks Conv2DBackpropFilter, so it cannot train CNNs). Each call with
 * `log` writes the one line saying which backend and why.
 */
export async function loadTf(log?: (line: string) => void): Promise<LoadedTf> {
  // A failed load is not cached, so a caller can fix the environment and retry.
  loading ??= load().catch((e: unknown) => {
    loading = null;
    throw e;
  });
  const loaded = await loading;
  log?.(loaded.message);
  return loaded;
}
