import onnxProto from 'onnx-proto';

// onnx-proto is CommonJS (`module.exports = { onnx }`): Node's ESM loader only offers it as a default import.
const { onnx } = onnxProto;

/** ONNX opset the tiny models are written for (ORT ≥ 1.14 runs it; real exports use 14–17). */
export const TINY_OPSET = 17;
/** IR version 8 is the newest onnx-proto 8 knows and the one opset 17 needs. */
const IR_VERSION = 8;

export type ElemType = 'float32' | 'float16' | 'int32' | 'int64' | 'bool';
/** A dimension: a fixed size or a symbolic name such as `batch_size`. */
export type Dim = number | string;

const ELEM_CODE: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

export type Attr =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { string: string };

function valueInfo(
  name: string,
  type: ElemType,
  dims: readonly Dim[],
): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ELEM_CODE[type],
        shape: {
          dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  });
}

function attribute(name: string, a: Attr): InstanceType<typeof onnx.AttributeProto> {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in a) return onnx.AttributeProto.create({ name, type: T.INT, i: a.int });
  if ('float' in a) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: a.float });
  if ('ints' in a) return onnx.AttributeProto.create({ name, type: T.INTS, ints: [...a.ints] });
  if ('floats' in a)
    return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: [...a.floats] });
  return onnx.AttributeProto.create({
    name,
    type: T.STRING,
    s: new TextEncoder().encode(a.string),
  });
}

/** Little-endian bytes, whatever the host's byte order, so files are identical everywhere. */
function float32Bytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

function int64Bytes(data: readonly number[]): Uint8Array {
  const out = new Uint8Array(data.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setBigInt64(i * 8, BigInt(data[i]!), true);
  return out;
}

/**
 * A small builder for ONNX graphs: declare inputs and outputs, add initializers and nodes, and
 * serialize. Values are referred to by name; `op` returns the (generated) name of its output.
 */
export class OnnxGraph {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly inits: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(private readonly name: string) {}

  private fresh(hint: string): string {
    let n = `${hint}_${this.counter++}`;
    while (this.used.has(n)) n = `${hint}_${this.counter++}`;
    this.used.add(n);
    return n;
  }

  private claim(name: string): string {
    if (this.used.has(name))
      throw new Error(`ONNX graph "${this.name}": value name "${name}" is defined twice`);
    this.used.add(name);
    return name;
  }

  input(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), type, dims));
    return name;
  }

  /** Declares a graph output; a node must produce a value of that name (pass it as `out` to `op`). */
  output(name: string, type: ElemType, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  floatTensor(hint: string, dims: readonly number[], data: Float32Array): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length)
      throw new Error(
        `initializer ${hint}: dims ${dims.join('x')} need ${size} values, got ${data.length}`,
      );
    const name = this.fresh(hint);
    this.inits.push(
      onnx.TensorProto.create({
        name,
        dims: [...dims],
        dataType: ELEM_CODE.float32,
        rawData: float32Bytes(data),
      }),
    );
    return name;
  }

  int64Tensor(hint: string, dims: readonly number[], data: readonly number[]): string {
    const name = this.fresh(hint);
    this.inits.push(
      onnx.TensorProto.create({
        name,
        dims: [...dims],
        dataType: ELEM_CODE.int64,
        rawData: int64Bytes(data),
      }),
    );
    return name;
  }

  /** An initializer from little-endian bytes already in `type`'s layout (e.g. float16 bits). */
  rawTensor(hint: string, dims: readonly number[], type: ElemType, rawData: Uint8Array): string {
    const name = this.fresh(hint);
    this.inits.push(
      onnx.TensorProto.create({ name, dims: [...dims], dataType: ELEM_CODE[type], rawData }),
    );
    return name;
  }

  /**
   * An initializer whose bytes live in a file beside the model (ONNX external data): `location`
   * relative to the model's folder, `offset`/`length` in bytes. How graphs past protobuf's 2 GB
   * limit are stored (a real fp32 SD UNet export is one).
   */
  externalTensor(
    hint: string,
    dims: readonly number[],
    type: ElemType,
    where: { location: string; offset: number; length: number },
  ): string {
    const name = this.fresh(hint);
    this.inits.push(
      onnx.TensorProto.create({
        name,
        dims: [...dims],
        dataType: ELEM_CODE[type],
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: where.location },
          { key: 'offset', value: String(where.offset) },
          { key: 'length', value: String(where.length) },
        ],
      }),
    );
    return name;
  }

  /** A 1-D int64 constant (shapes, axes, slice bounds). */
  ints(hint: string, values: readonly number[]): string {
    return this.int64Tensor(hint, [values.length], values);
  }

  /** A float scalar (rank 0) constant. */
  scalar(hint: string, value: number): string {
    return this.floatTensor(hint, [], Float32Array.of(value));
  }

  /** Adds one node and returns its output's name (`out`, or a generated one). */
  op(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, Attr> = {},
    out?: string,
  ): string {
    return this.opMulti(opType, inputs, 1, attrs, out ? [out] : undefined)[0]!;
  }

  opMulti(
    opType: string,
    inputs: readonly string[],
    outputCount: number,
    attrs: Record<string, Attr> = {},
    outs?: readonly string[],
  ): string[] {
    const names = outs
      ? outs.map((o) => this.claim(o))
      : Array.from({ length: outputCount }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        name: `${opType}_${this.nodes.length}`,
        input: [...inputs],
        output: names,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return names;
  }

  /** Serialized ModelProto; deterministic for the same sequence of calls. */
  toBytes(docString: string): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: TINY_OPSET }],
      producerName: 'fgl-tiny-models',
      producerVersion: '1',
      docString,
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/**
 * Moves every initializer of at least `minBytes` out of a serialized model into one external-data
 * file `location` (beside the model), as `onnx.save_model(..., save_as_external_data=True)` does for
 * graphs over 2 GB: the tensor keeps its name, dims and type; `data_location` becomes EXTERNAL with
 * `location` / `offset` / `length` entries. Offsets are 4096-aligned like onnx's. Deterministic.
 */
export function withExternalData(
  modelBytes: Uint8Array,
  location: string,
  minBytes = 1024,
): { model: Uint8Array; data: Uint8Array } {
  const model = onnx.ModelProto.decode(modelBytes);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of model.graph?.initializer ?? []) {
    const raw = t.rawData;
    if (!raw || raw.length < minBytes) continue;
    const pad = (4096 - (offset % 4096)) % 4096;
    if (pad > 0) chunks.push(new Uint8Array(pad));
    offset += pad;
    chunks.push(raw);
    t.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.rawData = new Uint8Array(0);
    offset += raw.length;
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.length;
  }
  return { model: onnx.ModelProto.encode(model).finish(), data };
}
