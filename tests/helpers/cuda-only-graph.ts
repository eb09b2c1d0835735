import onnxProto from 'onnx-proto';

/**
 * One com.microsoft GroupNorm node: the contrib op ORT's transformers optimizer puts into SD
 * UNets for CUDA. ONNX Runtime has CUDA (and ROCm/DirectML) kernels for it, no CPU kernel.
 */
export function cudaOnlyGraph(): Uint8Array {
  const { onnx } = onnxProto;
  const value = (name: string) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: [1, 2, 2, 4].map((d) => ({ dimValue: d })) } } },
  });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [
        { domain: '', version: 17 },
        { domain: 'com.microsoft', version: 1 },
      ],
      graph: {
        name: 'cuda_only',
        node: [
          {
            opType: 'GroupNorm',
            domain: 'com.microsoft',
            input: ['x', 'gamma', 'beta'],
            output: ['y'],
            attribute: [
              { name: 'epsilon', type: 1, f: 1e-5 },
              { name: 'groups', type: 2, i: 1 },
              { name: 'activation', type: 2, i: 0 },
            ],
          },
        ],
        initializer: [
          { name: 'gamma', dims: [4], dataType: 1, floatData: [1, 1, 1, 1] },
          { name: 'beta', dims: [4], dataType: 1, floatData: [0, 0, 0, 0] },
        ],
        input: [value('x')],
        output: [value('y')],
      },
    }),
  ).finish();
}
