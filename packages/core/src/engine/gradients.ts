/**
 * Gradients that tfjs 4.22 lacks or gets wrong, on every backend. `initEngine` registers them once.
 *
 * - `BatchMatMul`: the stock gradient does not sum over broadcast batch dimensions, so
 *   `matMul([B, S, H], [H, O])` (a dense layer on a sequence) fails in backprop with "gradient of input
 *   'b' has shape 'B,H,O'". This one reduces the gradient to each input's shape. On backends listed by
 *   `setExplicitTransposeGradient` (wasm, whose transposed matmul is ~10x slower than a plain one) it
 *   transposes operands with `tf.transpose` and multiplies without transpose flags; elsewhere it
 *   passes the flags exactly as the stock gradient does.
 * - `StridedSlice`: no gradient at all in tfjs; this scatters `dy` back into zeros of the input shape.
 * - `Cumsum`: the stock gradient transposes its result when `axis` is not the last one, giving the
 *   wrong shape (the kernel already handles the axis); the gradient is the reversed cumsum of `dy`.
 * - Comparisons and logical ops (`Greater`, `Less`, `LessEqual`, `Equal`, `NotEqual`, `Logical*`): no
 *   gradient in tfjs (so `where(greater(x, 0), x, y)` cannot be differentiated); TF treats them as
 *   not differentiable, i.e. zero gradient, as tfjs already does for `GreaterEqual`.
 */
import * as tf from '@tensorflow/tfjs';

/** Names of what `registerEngineGradients` installs, as reported in `EngineInfo.fixes`. */
export const ENGINE_GRADIENTS = [
  'grad:BatchMatMul(broadcast-reduce)',
  'grad:StridedSlice',
  'grad:Cumsum(axis)',
  'grad:comparisons(zero)',
] as const;

const ZERO_GRADIENT_KERNELS = [
  tf.Greater,
  tf.Less,
  tf.LessEqual,
  tf.Equal,
  tf.NotEqual,
  tf.LogicalAnd,
  tf.LogicalOr,
  tf.LogicalNot,
  tf.LogicalXor,
] as const;

/** Backends on which the matmul gradient transposes explicitly (set by the wasm fixes). */
const explicitTransposeBackends = new Set<string>();
let registered = false;

/** Make the `BatchMatMul` gradient use explicit transposes (`on`) or transpose flags on `backendName`. */
export function setExplicitTransposeGradient(backendName: string, on: boolean): void {
  if (on) explicitTransposeBackends.add(backendName);
  else explicitTransposeBackends.delete(backendName);
}

/** Registers the gradients above; idempotent. Returns their names. */
export function registerEngineGradients(): string[] {
  if (!registered) {
    tf.registerGradient(batchMatMulGradConfig);
    tf.registerGradient(stridedSliceGradConfig);
    tf.registerGradient(cumsumGradConfig);
    for (const kernelName of ZERO_GRADIENT_KERNELS) tf.registerGradient(zeroGradConfig(kernelName));
    registered = true;
  }
  return [...ENGINE_GRADIENTS];
}

/** Swaps the last two axes: `[..., m, n] -> [..., n, m]`. */
function transposeLastTwo(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 2] = x.rank - 1;
  perm[x.rank - 1] = x.rank - 2;
  return tf.transpose(x, perm);
}

/** Sums `grad` over the batch axes along which `input` was broadcast, then gives it `input`'s shape. */
function reduceToShape(grad: tf.Tensor, input: tf.Tensor): tf.Tensor {
  if (tf.util.arraysEqual(grad.shape, input.shape)) return grad;
  const axes = tf.broadcast_util.getReductionAxes(input.shape, grad.shape);
  const summed = axes.length > 0 ? tf.sum(grad, axes) : grad;
  return tf.reshape(summed, input.shape);
}

const batchMatMulGradConfig: tf.GradConfig = {
  kernelName: tf.BatchMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved, attrs) => {
    const g = dy as tf.Tensor;
    const [a, b] = saved;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    // mm(x, y, tx, ty) computes op(x) @ op(y); the explicit form is numerically the same product.
    const explicit = explicitTransposeBackends.has(tf.getBackend());
    const mm = (x: tf.Tensor, y: tf.Tensor, tx: boolean, ty: boolean): tf.Tensor =>
      explicit ? tf.matMul(tx ? transposeLastTwo(x) : x, ty ? transposeLastTwo(y) : y) : tf.matMul(x, y, tx, ty);
    let da: () => tf.Tensor;
    let db: () => tf.Tensor;
    if (!transposeA && !transposeB) {
      da = () => mm(g, b, false, true); //   dA = dY B^T
      db = () => mm(a, g, true, false); //   dB = A^T dY
    } else if (!transposeA && transposeB) {
      da = () => mm(g, b, false, false); //  dA = dY B
      db = () => mm(g, a, true, false); //   dB = dY^T A
    } else if (transposeA && !transposeB) {
      da = () => mm(b, g, false, true); //   dA = B dY^T
      db = () => mm(a, g, false, false); //  dB = A dY
    } else {
      da = () => mm(b, g, true, true); //    dA = B^T dY^T
      db = () => mm(g, a, true, true); //    dB = dY^T A^T
    }
    return { a: () => reduceToShape(da(), a), b: () => reduceToShape(db(), b) };
  },
};

/** The strided-slice attributes, as tfjs records them. */
interface StridedSliceAttrs {
  begin: number[];
  end: number[];
  strides: number[];
  beginMask: number;
  endMask: number;
  ellipsisMask: number;
  newAxisMask: number;
  shrinkAxisMask: number;
}

/**
 * Places `g` (the slice's values along `axis`, `n` of them at `lo, lo + step, ...`) into a zero tensor
 * whose `axis` has length `length`.
 */
function scatterAlongAxis(g: tf.Tensor, axis: number, lo: number, step: number, length: number): tf.Tensor {
  const n = g.shape[axis];
  let spread = g;
  if (step > 1) {
    // [..., n, ...] -> [..., n, 1, ...] -> [..., n, step, ...] (zeros after each value) -> [..., n*step, ...]
    const padding: Array<[number, number]> = g.shape.map(() => [0, 0]);
    padding.splice(axis + 1, 0, [0, step - 1]);
    const interleaved = tf.pad(tf.expandDims(g, axis + 1), padding);
    const merged = [...g.shape];
    merged[axis] = n * step;
    const size = g.shape.map(() => -1);
    size[axis] = (n - 1) * step + 1;
    spread = tf.slice(
      tf.reshape(interleaved, merged),
      g.shape.map(() => 0),
      size,
    );
  }
  const span = (n - 1) * step + 1;
  const padding: Array<[number, number]> = g.shape.map(() => [0, 0]);
  padding[axis] = [lo, length - lo - span];
  return tf.pad(spread, padding);
}

const stridedSliceGradConfig: tf.GradConfig = {
  kernelName: tf.StridedSlice,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const a = attrs as unknown as StridedSliceAttrs;
    return {
      x: () => {
        const info = tf.slice_util.sliceInfo(
          x.shape,
          a.begin,
          a.end,
          a.strides,
          a.beginMask,
          a.endMask,
          a.ellipsisMask,
          a.newAxisMask,
          a.shrinkAxisMask,
        );
        // begin/end/strides come back normalised to one entry per axis of x (masks, ellipsis and new
        // axes resolved); `counts` is how many elements the slice takes along each axis of x.
        const counts = tf.slice_util.computeOutShape(info.begin, info.end, info.strides).map((c) => Math.max(0, c));
        if (counts.some((c) => c === 0)) return tf.zeros(x.shape);
        let g = tf.reshape(dy as tf.Tensor, counts); // new axes (size 1) and shrunk axes folded back
        for (let axis = 0; axis < x.rank; axis++) {
          const n = counts[axis];
          const stride = info.strides[axis];
          if (n === x.shape[axis] && stride === 1) continue; // whole axis, nothing to place
          if (stride < 0) g = tf.reverse(g, axis);
          const lo = stride < 0 ? info.begin[axis] + (n - 1) * stride : info.begin[axis];
          g = scatterAlongAxis(g, axis, lo, Math.abs(stride), x.shape[axis]);
        }
        return g;
      },
    };
  },
};

const cumsumGradConfig: tf.GradConfig = {
  kernelName: tf.Cumsum,
  gradFunc: (dy, _saved, attrs) => {
    const { axis, exclusive, reverse } = attrs as unknown as { axis: number; exclusive: boolean; reverse: boolean };
    // y_i = sum_{j<=i} x_j  =>  dx_j = sum_{i>=j} dy_i: the same scan in the other direction.
    return { x: () => tf.cumsum(dy as tf.Tensor, axis, exclusive, !reverse) };
  },
};

function zeroGradConfig(kernelName: string): tf.GradConfig {
  const inputs = kernelName === tf.LogicalNot ? ['x'] : ['a', 'b'];
  return {
    kernelName,
    inputsToSave: inputs,
    gradFunc: (_dy, saved) => {
      const grads: Record<string, () => tf.Tensor> = {};
      saved.forEach((t, i) => (grads[inputs[i]] = () => tf.zeros(t.shape)));
      return grads;
    },
  };
}
