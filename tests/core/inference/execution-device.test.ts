import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CUDA_INSTALL_COMMAND,
  candidateProviders,
  createSession,
  inputDType,
  outputDType,
  resolveDevice,
} from '../../../src/core/ort/execution-device';
import { float16Tensor } from '../../../src/core/ort/float16';
import {
  float16BitsToFloat32 as halfBitsToNumber,
  float32ToFloat16Bits as numberToHalfBits,
} from '../../../src/shared/float16';
import { tensorToFloat32 } from '../../../src/core/ort/tensor-float32';

// ONNX TensorProto element types.
const ELEM = { float32: 1, int32: 6, int64: 7, float16: 10 } as const;

let root: string;
let castModel: string;

/** x → Cast → y (float16) and h (float16) → Cast → z (float32); other inputs are only declared. */
function writeModel(file: string, inputs: Record<string, keyof typeof ELEM>): Promise<void> {
  const { onnx } = onnxProto;
  const [first] = Object.keys(inputs);
  const bytes = onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'g',
        node: [
          {
            opType: 'Cast',
            input: [first!],
            output: ['y'],
            attribute: [{ name: 'to', type: 2, i: ELEM.float16 }],
          },
          {
            opType: 'Cast',
            input: ['h'],
            output: ['z'],
            attribute: [{ name: 'to', type: 2, i: ELEM.float32 }],
          },
        ],
        input: Object.entries(inputs).map(([name, t]) => ({
          name,
          type: {
            tensorType: {
              elemType: ELEM[t],
              shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }] },
            },
          },
        })),
        output: [
          {
            name: 'y',
            type: {
              tensorType: {
                elemType: ELEM.float16,
                shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }] },
              },
            },
          },
          {
            name: 'z',
            type: {
              tensorType: {
                elemType: ELEM.float32,
                shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }] },
              },
            },
          },
        ],
      },
    }),
  ).finish();
  return writeFile(file, bytes);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fgl-ort-'));
  castModel = path.join(root, 'cast.onnx');
  await writeModel(castModel, { x: 'float32', ids: 'int32', ids64: 'int64', h: 'float16' });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('candidateProviders', () => {
  it('auto tries the platform GPU provider, then CPU; an explicit choice is tried alone', () => {
    expect(candidateProviders('auto', 'linux')).toEqual(['cuda', 'cpu']);
    expect(candidateProviders('auto', 'win32')).toEqual(['dml', 'cpu']);
    expect(candidateProviders('auto', 'darwin')).toEqual(['coreml', 'cpu']);
    expect(candidateProviders('auto', 'freebsd')).toEqual(['cpu']);
    expect(candidateProviders('cuda', 'linux')).toEqual(['cuda']);
    expect(candidateProviders('cpu', 'win32')).toEqual(['cpu']);
  });
});

// This build machine has no CUDA provider library (allowScripts denies its download), so `auto` must fall back.
describe.runIf(process.platform === 'linux')(
  'createSession on a machine without the CUDA provider',
  () => {
    it("'auto' falls back to CPU with a one-line message that says how to get the GPU", async () => {
      const { session, device, fallbackMessage } = await createSession(castModel, 'auto');
      expect(device).toBe('cpu');
      expect(fallbackMessage).toMatch(
        /^GPU execution provider unavailable: cuda \(.+\)\. Running on cpu\./,
      );
      expect(fallbackMessage).toContain(CUDA_INSTALL_COMMAND);
      expect(fallbackMessage).not.toContain('\n');
      await session.release();
    });

    it("an explicit 'cuda' is an error naming the install command", async () => {
      await expect(createSession(castModel, 'cuda')).rejects.toThrow(CUDA_INSTALL_COMMAND);
    });

    it("'dml' is not available on Linux", async () => {
      await expect(createSession(castModel, 'dml')).rejects.toThrow(
        /dml execution provider could not be used.*Windows/,
      );
    });

    it('resolveDevice probes the same way (for transformers.js)', async () => {
      const auto = await resolveDevice('auto');
      expect(auto.device).toBe('cpu');
      expect(auto.fallbackMessage).toContain(CUDA_INSTALL_COMMAND);
      expect(await resolveDevice('cpu')).toEqual({ device: 'cpu', fallbackMessage: undefined });
      await expect(resolveDevice('cuda')).rejects.toThrow(CUDA_INSTALL_COMMAND);
    });
  },
);

describe("'cpu' sessions and declared dtypes", () => {
  it('runs on CPU without a message, and reports each input and output type as declared', async () => {
    const { session, device, fallbackMessage } = await createSession(castModel, 'cpu');
    expect(device).toBe('cpu');
    expect(fallbackMessage).toBeUndefined();
    expect(inputDType(session, 'x')).toBe('float32');
    expect(inputDType(session, 'ids')).toBe('int32');
    expect(inputDType(session, 'ids64')).toBe('int64');
    expect(inputDType(session, 'h')).toBe('float16');
    expect(outputDType(session, 'y')).toBe('float16');
    expect(() => inputDType(session, 'nope')).toThrow(
      /no input named "nope" \(it has: x, ids, ids64, h\)/,
    );

    const x = new ort.Tensor('float32', Float32Array.from([1, -2.5, 65504, 0.1, 3, 1e-8]), [2, 3]);
    const out = await session.run({
      x,
      ids: new ort.Tensor('int32', new Int32Array(6), [2, 3]),
      ids64: new ort.Tensor('int64', new BigInt64Array(6), [2, 3]),
      // A float16 feed: ORT-node 1.30 rejects the Float16Array that onnxruntime-common makes on Node 24.
      h: float16Tensor(Float32Array.from([0.5, -1, 2048, 1 / 3, 70000, 2 ** -24]), [2, 3]),
    });
    expect(outputDType(session, 'z')).toBe('float32');
    const y = tensorToFloat32(out.y!);
    expect(Array.from(y.slice(0, 5))).toEqual([1, -2.5, 65504, 0.0999755859375, 3]);
    expect(y[5]).toBeCloseTo(0, 7);
    expect(Array.from(out.z!.data as Float32Array)).toEqual([
      0.5,
      -1,
      2048,
      0.333251953125,
      Infinity,
      2 ** -24,
    ]);
    await session.release();
  });

  it('encodes half precision like a hardware cast (round to nearest even)', () => {
    const values = [
      0,
      -0,
      1,
      -2,
      0.1,
      1 / 3,
      65504,
      65520,
      1e6,
      2 ** -24,
      2 ** -25,
      3 * 2 ** -25,
      5.960464477539063e-8,
      1.00048828125,
    ];
    const expected = [
      0x0000, 0x8000, 0x3c00, 0xc000, 0x2e66, 0x3555, 0x7bff, 0x7c00, 0x7c00, 0x0001, 0x0000,
      0x0002, 0x0001, 0x3c00,
    ];
    expect(values.map(numberToHalfBits)).toEqual(expected);
    expect(numberToHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    for (let bits = 0; bits < 0x7c00; bits += 7)
      expect(numberToHalfBits(halfBitsToNumber(bits))).toBe(bits);
  });

  it.runIf(typeof Float16Array !== 'undefined')(
    "agrees with the runtime's Float16Array on random values",
    () => {
      let seed = 12345;
      const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
      const values = Float32Array.from({ length: 5000 }, (_, i) => rand() * 2 ** ((i % 40) - 28));
      const reference = new Uint16Array(Float16Array.from(values).buffer);
      expect(Array.from(values, numberToHalfBits)).toEqual(Array.from(reference));
    },
  );

  it('builds float16 tensors with the one shared conversion (quiet NaN, ties to even)', () => {
    const t = float16Tensor(Float32Array.of(NaN, 1, 1.00048828125, 65520), [4]);
    expect(Array.from(t.data as Uint16Array)).toEqual([0x7e00, 0x3c00, 0x3c00, 0x7c00]);
  });

  it('decodes half-precision bits', () => {
    expect(halfBitsToNumber(0x3c00)).toBe(1);
    expect(halfBitsToNumber(0xc000)).toBe(-2);
    expect(halfBitsToNumber(0x7bff)).toBe(65504);
    expect(halfBitsToNumber(0x0001)).toBe(2 ** -24);
    expect(halfBitsToNumber(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(halfBitsToNumber(0x7e00))).toBe(true);
  });
});
