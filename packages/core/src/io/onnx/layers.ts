/**
 * The shared layers of core/layers as ONNX subgraphs, op for op the same computation as the tfjs
 * versions (same order of operations, same constants), so an exported model gives the tfjs
 * model's numbers to float rounding. Weights are given in the PyTorch on-disk layout (`[out, in]`
 * for linear weights, as in model.safetensors) and transposed here once, so every linear layer is
 * a plain MatMul.
 */
import { MASKED } from '../../layers/attention';
import type { HostTensor } from '../../layers/params';
import { OnnxDataType, type OnnxGraph } from './graph';

/** [rows, cols] row-major -> [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c]!;
  }
  return out;
}

/** A tensor of a state dict by name; the error names the missing tensor. */
export function stateTensor(weights: Map<string, HostTensor>, name: string): HostTensor {
  const t = weights.get(name);
  if (!t) throw new Error(`ONNX export: the weights have no tensor "${name}"`);
  return t;
}

/** Adds a state-dict tensor unchanged as an initializer (same name). */
export function weightInitializer(g: OnnxGraph, weights: Map<string, HostTensor>, name: string): string {
  const t = stateTensor(weights, name);
  return g.initializer(name, t.data, t.shape);
}

/**
 * y = x·Wᵀ + b for a PyTorch Linear `<name>.weight` [out, in] (+ `<name>.bias` when present).
 * `conv1d`: the weight is already [in, out] (GPT-2's Conv1D).
 */
export function linear(
  g: OnnxGraph,
  x: string,
  weights: Map<string, HostTensor>,
  name: string,
  opts: { conv1d?: boolean } = {},
): string {
  const w = stateTensor(weights, `${name}.weight`);
  if (w.shape.length !== 2) throw new Error(`ONNX export: "${name}.weight" has shape [${w.shape}], expected 2-D`);
  const [a, b] = w.shape as [number, number];
  const wIn = opts.conv1d
    ? g.initializer(`${name}.weight`, w.data, [a, b])
    : g.initializer(`${name}.weight`, transpose2d(w.data, a, b), [b, a]);
  const y = g.op('MatMul', [x, wIn]);
  return weights.has(`${name}.bias`) ? g.op('Add', [y, weightInitializer(g, weights, `${name}.bias`)]) : y;
}

/** LayerNorm over the last axis (opset 17 LayerNormalization) with `<name>.weight` / `<name>.bias`. */
export function layerNorm(
  g: OnnxGraph,
  x: string,
  weights: Map<string, HostTensor>,
  name: string,
  eps: number,
): string {
  return g.op(
    'LayerNormalization',
    [x, weightInitializer(g, weights, `${name}.weight`), weightInitializer(g, weights, `${name}.bias`)],
    {
      axis: { int: -1 },
      epsilon: { float: eps },
    },
  );
}

/** RMSNorm (Llama): x / sqrt(mean(x², last axis) + eps) · weight, as core's RmsNorm. */
export function rmsNorm(g: OnnxGraph, x: string, weights: Map<string, HostTensor>, name: string, eps: number): string {
  const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: { ints: [-1] }, keepdims: { int: 1 } });
  const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [ms, g.float(eps)])])]);
  return g.op('Mul', [g.op('Mul', [x, inv]), weightInitializer(g, weights, `${name}.weight`)]);
}

/** The activation named by an HF `hidden_act` (the formulas of core/layers/activations.ts). */
export function activation(g: OnnxGraph, x: string, name: string): string {
  switch (name) {
    case 'gelu': // x·(erf(x/√2) + 1)·0.5, in the op order PyTorch exports, which ONNX Runtime fuses into one Gelu (BiasGelu with the bias before it)
      return g.op('Mul', [
        g.op('Mul', [x, g.op('Add', [g.op('Erf', [g.op('Div', [x, g.float(Math.SQRT2)])]), g.float(1)])]),
        g.float(0.5),
      ]);
    case 'gelu_new':
    case 'gelu_pytorch_tanh': {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
      const cube = g.op('Pow', [x, g.float(3)]);
      const inner = g.op('Mul', [
        g.float(Math.sqrt(2 / Math.PI)),
        g.op('Add', [x, g.op('Mul', [g.float(0.044715), cube])]),
      ]);
      return g.op('Mul', [g.op('Mul', [x, g.float(0.5)]), g.op('Add', [g.float(1), g.op('Tanh', [inner])])]);
    }
    case 'silu':
    case 'swish':
      return g.op('Mul', [x, g.op('Sigmoid', [x])]);
    case 'relu':
      return g.op('Relu', [x]);
    default:
      throw new Error(
        `ONNX export: unknown activation "${name}" (valid: gelu, gelu_new, gelu_pytorch_tanh, silu, relu)`,
      );
  }
}

/** [batch, seq, heads*dim] -> [batch, heads, seq, dim]. */
export function splitHeads(g: OnnxGraph, x: string, heads: number, headDim: number): string {
  return g.op('Transpose', [g.op('Reshape', [x, g.int64([0, 0, heads, headDim])])], { perm: { ints: [0, 2, 1, 3] } });
}

/** [batch, heads, seq, dim] -> [batch, seq, heads*dim]. */
export function mergeHeads(g: OnnxGraph, x: string, hidden: number): string {
  return g.op('Reshape', [g.op('Transpose', [x], { perm: { ints: [0, 2, 1, 3] } }), g.int64([0, 0, hidden])]);
}

/**
 * [batch, kvHeads, seq, dim] -> [batch, kvHeads·groups, seq, dim], each kv head repeated `groups`
 * times in a row (HF's repeat_kv).
 */
export function repeatKv(g: OnnxGraph, x: string, kvHeads: number, groups: number, headDim: number): string {
  if (groups === 1) return x;
  const expanded = g.op('Unsqueeze', [x, g.int64([2])]); // [b, kv, 1, s, d]
  const shape = g.op('Shape', [expanded]);
  const target = g.op(
    'Concat',
    [
      g.op('Slice', [shape, g.int64([0]), g.int64([2])]),
      g.int64([groups]),
      g.op('Slice', [shape, g.int64([3]), g.int64([5])]),
    ],
    { axis: { int: 0 } },
  );
  const tiled = g.op('Expand', [expanded, target]); // [b, kv, groups, s, d]
  return g.op('Reshape', [tiled, g.int64([0, kvHeads * groups, -1, headDim])]);
}

/** attention_mask [batch, keys] (int64, 1 = token) -> additive bias [batch, 1, 1, keys] (0 or MASKED). */
export function paddingBias(g: OnnxGraph, mask: string): string {
  const m = g.op('Cast', [mask], { to: { int: OnnxDataType.FLOAT } });
  const bias = g.op('Mul', [g.op('Sub', [g.float(1), m]), g.float(MASKED)]);
  return g.op('Unsqueeze', [bias, g.int64([1, 2])]);
}

/**
 * softmax(q·scale·kᵀ + bias)·v with q [b, h, q, d], k and v [b, h, k, d] (kv heads already
 * repeated); bias broadcasts to [b, h, q, k]. Returns [b, h, q, d].
 */
export function attention(g: OnnxGraph, q: string, k: string, v: string, bias: string | null, scale: number): string {
  const kt = g.op('Transpose', [k], { perm: { ints: [0, 1, 3, 2] } }); // [b, h, d, k]
  let scores = g.op('MatMul', [g.op('Mul', [q, g.float(scale)]), kt]); // [b, h, q, k]
  if (bias) scores = g.op('Add', [scores, bias]);
  return g.op('MatMul', [g.op('Softmax', [scores], { axis: { int: -1 } }), v]);
}
