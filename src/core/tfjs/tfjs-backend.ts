import type * as TfModule from '@tensorflow/tfjs';
import { installFastConvBackpropFilter } from './cpu-conv-backprop-filter';
import { installWasmTrainingKernels } from './wasm-training-kernels';

/** The tfjs namespace, whichever package provided it (tfjs-node-gpu re-exports all of tfjs). */
export type Tf = typeof TfModule;

export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface LoadedTf {
  tf: Tf;
  /**
   * 'tensorflow' = libtensorflow through @tensorflow/tfjs-node-gpu; 'wasm' = tfjs-backend-wasm
   * (XNNPACK, SIMD); 'cpu' = tfjs's pure-JS backend.
   */
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
  const forced = process.env.FGL_TFJS_BACKEND;
  if (forced !== undefined && forced !== 'wasm' && forced !== 'cpu')
    throw new Error(
      `FGL_TFJS_BACKEND must be wasm or cpu; got "${forced}". Unset it to choose automatically.`,
    );
  const wasm = forced === 'cpu' ? { error: 'FGL_TFJS_BACKEND=cpu' } : await tryWasm(tf);
  if (!('error' in wasm)) {
    return {
      tf,
      backend: 'wasm',
      message:
        `tfjs backend: wasm (XNNPACK${wasm.simd ? ' + SIMD' : ''}, one thread: tfjs-backend-wasm has no threads in Node) ` +
        `because ${GPU_PACKAGE} did not load: ${gpu.error}. FGL_TFJS_BACKEND=cpu selects the pure-JS backend.`,
    };
  }
  if (forced === 'wasm')
    throw new Error(`FGL_TFJS_BACKEND=wasm but the wasm backend did not start: ${wasm.error}`);
  await useCpu(tf);
  return {
    tf,
    backend: 'cpu',
    message:
      `tfjs backend: cpu (pure JavaScript, slow for CNNs) because ${GPU_PACKAGE} did not load: ${gpu.error}` +
      `${forced === 'cpu' ? '' : ` and wasm did not start: ${wasm.error}`}. ` +
      `For GPU training install it on a machine with CUDA 11.2 + cuDNN 8 (npm install ${GPU_PACKAGE}).`,
  };
}

async function useCpu(tf: Tf): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
  quietFirstUse(tf);
  installFastConvBackpropFilter(tf);
}

/**
 * Switches @tensorflow/tfjs (process-wide) to one of its JavaScript-hosted backends, with our
 * training kernels installed; for benchmarks that compare backends in one process. Production
 * code calls `loadTf`, which chooses.
 */
export async function useJsBackend(name: 'wasm' | 'cpu'): Promise<LoadedTf> {
  const tf = (await import('@tensorflow/tfjs')) as Tf;
  if (name === 'cpu') {
    await useCpu(tf);
    return { tf, backend: 'cpu', message: 'tfjs backend: cpu (selected)' };
  }
  const wasm = await tryWasm(tf);
  if ('error' in wasm) throw new Error(`The tfjs wasm backend did not start: ${wasm.error}`);
  return { tf, backend: 'wasm', message: `tfjs backend: wasm (selected; SIMD ${wasm.simd})` };
}

/** tfjs backends print a multi-line "install tfjs-node" banner on first use; our one log line already says that. */
function quietFirstUse(tf: Tf): void {
  const prod = tf.env().getBool('PROD');
  tf.env().set('PROD', true);
  tf.scalar(0).dispose();
  tf.env().set('PROD', prod);
}

/**
 * tfjs-backend-wasm: XNNPACK kernels with SIMD, 5–40× the pure-JS backend on matmuls and
 * convolutions (`npm run bench -- server`). Its Node build is single-threaded (tfjs#3830).
 */
async function tryWasm(tf: Tf): Promise<{ simd: boolean } | { error: string }> {
  // Emscripten's Node glue adds process handlers that rethrow any uncaught error from inside
  // its module, so a crash would print the whole module source; Node's defaults are kept instead.
  const before = {
    uncaughtException: process.listeners('uncaughtException'),
    unhandledRejection: process.listeners('unhandledRejection'),
  };
  const restoreHandlers = (): void => {
    for (const l of process.listeners('uncaughtException'))
      if (!before.uncaughtException.includes(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection'))
      if (!before.unhandledRejection.includes(l)) process.removeListener('unhandledRejection', l);
  };
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    const ok = await tf.setBackend('wasm');
    restoreHandlers();
    if (!ok) return { error: 'tf.setBackend("wasm") returned false' };
    await tf.ready();
    quietFirstUse(tf);
    installWasmTrainingKernels(tf);
    return { simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) };
  } catch (e) {
    return { error: (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '' };
  }
}

/**
 * Loads tfjs once per process: tfjs-node-gpu when it loads, else @tensorflow/tfjs on the wasm
 * backend (our kernels for its missing or naive training ops: wasm-training-kernels.ts), else on the pure-JS cpu backend.
 * FGL_TFJS_BACKEND=cpu|wasm forces one of the last two. Each call with `log` writes the one
 * line saying which backend and why.
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
