/**
 * An ONNX graph under construction, serialised with the official ONNX protobuf schema (the
 * `onnx-proto` package: protobufjs code generated from onnx.proto, ONNX v1.10 / IR version 8).
 * Nothing here writes protobuf bytes by hand.
 *
 * Names: `op()` gives every node output a fresh name (`<opType>_<n>`) unless one is given, so
 * model code reads like the forward pass it mirrors:
 *
 *   const h = g.op('MatMul', [x, g.initializer('w', w, [in, out])]);
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** The default opset: 17 has LayerNormalization; Unsqueeze/Squeeze/ReduceSum take axes as inputs, ReduceMean as an attribute. */
export const ONNX_OPSET = 17;
/** IR version 8 (ONNX 1.10–1.12), which onnxruntime >= 1.10 reads. */
export const ONNX_IR_VERSION = 8;
/** TensorProto.DataType codes used by the exporters. */
export const OnnxDataType = Object.freeze({ FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 });
export type OnnxDataTypeCode = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** A node attribute, tagged with its ONNX type (a bare number would not say int or float). */
export type OnnxAttr =
  | { int: number }
  | { float: number }
  | { ints: number[] }
  | { floats: number[] }
  | { string: string }
  | { tensor: { data: Float32Array | BigInt64Array; dims: number[] } };

/** One graph input or output: name, element type and dims (a string is a symbolic dimension). */
export interface OnnxValueInfo {
  name: string;
  type: OnnxDataTypeCode;
  dims: (number | string)[];
}

/** Model-level fields of the serialised file. */
export interface OnnxModelOptions {
  /** Written as `producer_name`. Default "dalm-ts". */
  producer?: string;
  /** Default ONNX_OPSET. */
  opset?: number;
  /** `metadata_props` entries (strings). */
  metadata?: Record<string, string>;
  /** Graph name. Default "main". */
  name?: string;
}

/** Largest model a single protobuf file can hold (2 GiB); bigger ones would need external data. */
const MAX_PROTO_BYTES = 2 ** 31 - 1;

function tensorProto(name: string, data: Float32Array | BigInt64Array | Int32Array, dims: number[]) {
  const size = dims.reduce((a, b) => a * b, 1);
  if (data.length !== size)
    throw new Error(`ONNX initializer "${name}": ${data.length} values for shape [${dims}] (${size} expected)`);
  const dataType =
    data instanceof Float32Array
      ? OnnxDataType.FLOAT
      : data instanceof BigInt64Array
        ? OnnxDataType.INT64
        : OnnxDataType.INT32;
  return onnx.TensorProto.create({
    name,
    dims,
    dataType,
    // raw_data is little-endian; every platform Node runs on is.
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}

function attributeProto(name: string, a: OnnxAttr) {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in a) return onnx.AttributeProto.create({ name, type: T.INT, i: a.int });
  if ('float' in a) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: a.float });
  if ('ints' in a) return onnx.AttributeProto.create({ name, type: T.INTS, ints: a.ints });
  if ('floats' in a) return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: a.floats });
  if ('string' in a) return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(a.string) });
  return onnx.AttributeProto.create({ name, type: T.TENSOR, t: tensorProto(name, a.tensor.data, a.tensor.dims) });
}

function valueInfoProto(v: OnnxValueInfo) {
  return onnx.ValueInfoProto.create({
    name: v.name,
    type: {
      tensorType: {
        elemType: v.type,
        shape: { dim: v.dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

/**
 * Builds one ONNX graph: inputs, outputs, initializers (weights) and nodes in topological order
 * (each node added after the nodes producing its inputs, as the forward pass runs).
 *
 * @example
 * const g = new OnnxGraph();
 * const x = g.input('x', OnnxDataType.FLOAT, ['batch', 4]);
 * g.output(g.op('Relu', [x], {}, 'y'), OnnxDataType.FLOAT, ['batch', 4]);
 * const bytes = g.toModel(); // load with onnxruntime: InferenceSession.create(bytes)
 */
export class OnnxGraph {
  private readonly nodes: ReturnType<typeof onnx.NodeProto.create>[] = [];
  private readonly initializers: ReturnType<typeof onnx.TensorProto.create>[] = [];
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly names = new Set<string>();
  private readonly constants = new Map<string, string>();
  private counter = 0;

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX graph: the name "${name}" is used twice`);
    this.names.add(name);
    return name;
  }

  private fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.names.has(name));
    return this.claim(name);
  }

  /** Declares a graph input and returns its name. */
  input(name: string, type: OnnxDataTypeCode, dims: (number | string)[]): string {
    this.inputs.push({ name: this.claim(name), type, dims });
    return name;
  }

  /** Declares `value` (a name produced in the graph) a graph output; give the node that name with `op(..., name)`. */
  output(value: string, type: OnnxDataTypeCode, dims: (number | string)[]): string {
    if (!this.names.has(value)) throw new Error(`ONNX graph: output "${value}" is not produced by any node or input`);
    this.outputs.push({ name: value, type, dims });
    return value;
  }

  /** Adds a weight tensor (row-major data, `dims` its shape) and returns its name. */
  initializer(name: string, data: Float32Array | BigInt64Array | Int32Array, dims: number[]): string {
    this.initializers.push(tensorProto(this.claim(name), data, dims));
    return name;
  }

  /** A float32 constant (shared between uses of the same value); `dims` [] is a scalar. */
  float(values: number | number[], dims: number[] = typeof values === 'number' ? [] : [values.length]): string {
    const arr = typeof values === 'number' ? [values] : values;
    const key = `f:${dims.join('x')}:${arr.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.fresh('const_f');
      this.initializers.push(tensorProto(name, Float32Array.from(arr), dims));
      this.constants.set(key, name);
    }
    return name;
  }

  /** An int64 constant (shapes, axes, indices); `dims` [] is a scalar. */
  int64(values: number | number[], dims: number[] = typeof values === 'number' ? [] : [values.length]): string {
    const arr = typeof values === 'number' ? [values] : values;
    const key = `i:${dims.join('x')}:${arr.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.fresh('const_i');
      this.initializers.push(tensorProto(name, BigInt64Array.from(arr.map(BigInt)), dims));
      this.constants.set(key, name);
    }
    return name;
  }

  /**
   * Adds one node with a single output and returns the output's name (`name`, or a fresh one).
   * An empty string in `inputs` is an omitted optional input.
   */
  op(opType: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}, name?: string): string {
    return this.opN(opType, inputs, 1, attrs, name ? [name] : undefined)[0]!;
  }

  /** Adds one node with `outputs` outputs; returns their names (`names`, or fresh ones). */
  opN(
    opType: string,
    inputs: string[],
    outputs: number,
    attrs: Record<string, OnnxAttr> = {},
    names?: string[],
  ): string[] {
    for (const i of inputs) {
      if (i !== '' && !this.names.has(i)) throw new Error(`ONNX graph: ${opType} input "${i}" is not defined yet`);
    }
    const outs = Array.from({ length: outputs }, (_, k) => (names?.[k] ? this.claim(names[k]!) : this.fresh(opType)));
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        name: `${opType}_node_${this.nodes.length}`,
        input: inputs,
        output: outs,
        attribute: Object.entries(attrs).map(([k, v]) => attributeProto(k, v)),
      }),
    );
    return outs;
  }

  /** Serialises the graph as an ONNX model file (bytes of a ModelProto). */
  toModel(opts: OnnxModelOptions = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: ONNX_IR_VERSION,
      producerName: opts.producer ?? 'dalm-ts',
      opsetImport: [{ domain: '', version: opts.opset ?? ONNX_OPSET }],
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: onnx.GraphProto.create({
        name: opts.name ?? 'main',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(valueInfoProto),
        output: this.outputs.map(valueInfoProto),
      }),
    });
    const weightBytes = this.initializers.reduce((n, t) => n + (t.rawData?.byteLength ?? 0), 0);
    if (weightBytes > MAX_PROTO_BYTES) {
      throw new Error(
        `ONNX export: ${(weightBytes / 2 ** 30).toFixed(2)} GiB of weights exceed the 2 GiB limit of one protobuf file`,
      );
    }
    return onnx.ModelProto.encode(model).finish();
  }
}
