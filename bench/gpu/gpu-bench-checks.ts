/** The GPU benchmark's checks and constants, importable without running it (tests use them). */
import {
  cudaProviderInstalled,
  providerHint,
  resolveDevice,
} from '../../src/core/ort/execution-device';

/**
 * The published anchor quoted in issue #18: SD-Turbo, one 512² image, 38.2 ms on an A100 with
 * ONNX Runtime's CUDA provider and CUDA graphs (fp16, batch 1, one step).
 */
export const ANCHOR = {
  msPerImage: 38.2,
  gpu: 'A100',
  setup: 'ORT CUDA EP + CUDA graph, fp16, batch 1, 1 step',
};

/**
 * What onnxruntime-node offers of the asked-for optimisations. Its CUDA provider options are
 * `deviceId` only (js/node/src/session_options_helper.cc), so `enable_cuda_graph` cannot be set,
 * and its JS API has no I/O binding (`preferredOutputLocation` / GPU tensors are web-only). The
 * bench does the rest: fp16 graphs, inputs built once outside the timing, warm-up, the optimiser
 * at `all`; the gap to the anchor includes what CUDA graphs and I/O binding would save.
 */
export const NODE_BINDING_LIMITS = [
  'CUDA graphs: not available through onnxruntime-node (its CUDA provider takes deviceId only)',
  'I/O binding: not available through onnxruntime-node (no IoBinding, no GPU-resident tensors); inputs and outputs are copied host↔device on every run',
];

export type CudaAvailability =
  { available: true } | { available: false; reason: string; fix: string };

/** Whether ORT's CUDA provider runs here: its library beside the binding, then a probe session. */
export async function cudaAvailability(): Promise<CudaAvailability> {
  const fix = `${providerHint('cuda')}; then rerun \`npm run bench -- gpu\``;
  if (process.platform !== 'linux' && process.platform !== 'win32')
    return {
      available: false,
      reason: `ORT's CUDA provider is built for Linux and Windows, not ${process.platform}`,
      fix,
    };
  if (!cudaProviderInstalled())
    return {
      available: false,
      reason: `libonnxruntime_providers_cuda is not installed beside onnxruntime-node (the default npm install is CPU-only)`,
      fix,
    };
  try {
    await resolveDevice('cuda');
    return { available: true };
  } catch (err) {
    return {
      available: false,
      reason: `the CUDA provider is installed but does not start: ${(err as Error).message.split('\n')[0]}`,
      fix,
    };
  }
}
