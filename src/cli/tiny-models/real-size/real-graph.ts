import { closeSync, openSync, writeSync } from 'node:fs';
import os from 'node:os';
import { float32ArrayToFloat16 } from '../../../shared/float16';
import { OnnxGraph } from '../onnx-graph';
import { SeededRandom } from '../seeded-random';

/** Element type of a real-size graph's weights, activations and float inputs/outputs. */
export type RealDType = 'float32' | 'float16';

/**
 * A value in the graph: its ONNX name and its static shape for the call being costed (batch 1,
 * the model's native input size). The ONNX graph itself keeps batch (and, where the model allows,
 * sequence/spatial sizes) symbolic; the static shape only drives the parameter and MAC count.
 */
export type Val = { name: string; shape: readonly number[] };

/** Where weights go: nowhere (count only), inline in the protobuf, or an external-data file. */
export type WeightMode =
  | { kind: 'count' }
  | { kind: 'inline'; seed: number; stream: string }
  | { kind: 'external'; seed: number; stream: string; file: string; location: string };

const BYTES: Record<RealDType, number> = { float32: 4, float16: 2 };

/** What a graph costs: weights and multiply-accumulates per call (FLOPs = 2 × MACs). */
export type GraphCost = { params: number; macs: number; attentionMacs: number };

/**
 * OnnxGraph plus the bookkeeping real-size models need: weights are seeded random values written
 * straight to their destination (never held as a whole model in memory), every parameter and every
 * multiply-accumulate of matmuls and convolutions is counted from the same calls that build the
 * graph, and in `count` mode no weight is generated at all, so the cost of an 865 M-parameter UNet
 * is known in milliseconds without writing a byte.
 */
export class RealGraph {
  readonly g: OnnxGraph;
  params = 0;
  /** Every multiply-accumulate: convolutions, linear layers and the attention products. */
  macs = 0;
  /** The part of `macs` in attention's QKᵀ and ·V products (module-level counters leave it out). */
  attentionMacs = 0;
  private readonly rng: SeededRandom | null;
  private fd: number | null = null;
  private offset = 0;

  constructor(
    name: string,
    readonly dtype: RealDType,
    private readonly mode: WeightMode,
  ) {
    this.g = new OnnxGraph(name);
    this.rng = mode.kind === 'count' ? null : new SeededRandom(mode.seed, mode.stream);
    if (mode.kind !== 'count' && os.endianness() !== 'LE')
      throw new Error('Real-size model weights are written on little-endian hosts only.');
    if (mode.kind === 'external') this.fd = openSync(mode.file, 'w');
  }

  /** Bytes written to the external-data file so far. */
  get externalBytes(): number {
    return this.offset;
  }

  /** Call after the last weight: closes the external-data file. */
  finish(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private bytesOf(values: Float32Array): Uint8Array {
    if (this.dtype === 'float32')
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const h = float32ArrayToFloat16(values);
    return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
  }

  private store(hint: string, dims: readonly number[], values: Float32Array): string {
    const bytes = this.bytesOf(values);
    if (this.mode.kind === 'external') {
      writeSync(this.fd!, bytes);
      const name = this.g.externalTensor(hint, dims, this.dtype, {
        location: this.mode.location,
        offset: this.offset,
        length: bytes.length,
      });
      this.offset += bytes.length;
      return name;
    }
    return this.g.rawTensor(hint, dims, this.dtype, bytes.slice());
  }

  /**
   * A learned weight of `dims`: uniform with standard deviation `std` (one draw per value: the
   * distribution is irrelevant for timing, the speed is not), or all `fill`. Counted as parameters.
   */
  weight(hint: string, dims: readonly number[], init: { std: number } | { fill: number }): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.params += n;
    if (this.mode.kind === 'count') return `${hint}_uncounted_${this.params}`;
    const values = new Float32Array(n);
    if ('fill' in init) values.fill(init.fill);
    else {
      const a = init.std * Math.sqrt(3);
      const rng = this.rng!;
      for (let i = 0; i < n; i++) values[i] = (rng.uniform() * 2 - 1) * a;
    }
    return this.store(hint, dims, values);
  }

  /** A float constant in the graph's dtype (not a parameter): scales, epsilons, masks, tables. */
  constant(hint: string, dims: readonly number[], values: Float32Array): string {
    if (this.mode.kind === 'count') return `${hint}_const`;
    return this.g.rawTensor(hint, dims, this.dtype, this.bytesOf(values).slice());
  }

  scalar(hint: string, value: number): string {
    return this.constant(hint, [], Float32Array.of(value));
  }

  /** The serialized model (weights inline, or referring to the external-data file). */
  toBytes(docString: string): Uint8Array {
    if (this.mode.kind === 'count') throw new Error('a count-only graph has no weights to write');
    return this.g.toBytes(docString);
  }

  /** The bytes a float of this graph takes. */
  get elementBytes(): number {
    return BYTES[this.dtype];
  }
}
