/**
 * A scatter-add `UnsortedSegmentSum` kernel computed on the CPU side, for the `wasm` backend (which has
 * none) and the `cpu` backend (whose kernel loops once per segment, O(numSegments * N * D)).
 *
 * `gather`'s gradient is `unsortedSegmentSum(dy, indices, vocab)`, so this kernel is what an embedding
 * gradient costs: O(N * D) here, versus ~30k full passes over `dy` for a BERT vocabulary with the stock
 * cpu kernel.
 *
 * Semantics follow TensorFlow: `out[s, ...] = sum over i with segmentIds[i] == s of x[i, ...]`, for
 * `segmentIds` of shape `[x.shape[0]]` (what tfjs' `unsortedSegmentSum` op passes); ids that are
 * negative or >= numSegments are dropped. Sums accumulate in float64 in index order, then round to the
 * output dtype, which reproduces the stock cpu kernel's float32 results bit for bit.
 */
import * as tf from '@tensorflow/tfjs';

/** The kernel's attributes, as tfjs passes them. */
interface SegmentSumAttrs {
  numSegments: number;
}

/** The backends this kernel knows how to allocate outputs on. */
export type SegmentSumBackend = 'cpu' | 'wasm';

/** The part of a tfjs backend this kernel touches (both MathBackendCPU and BackendWasm have it). */
interface ReadableBackend {
  readSync(dataId: object): tf.backend_util.BackendValues;
  /** BackendWasm: allocates a heap tensor initialised with `values`. */
  makeOutput?(
    shape: number[],
    dtype: tf.DataType,
    memoryOffset?: number,
    values?: tf.backend_util.BackendValues,
  ): tf.TensorInfo;
  /** MathBackendCPU: wraps `values` as a tensor. */
  makeTensorInfo?(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

/**
 * Pure scatter-add on flat arrays: `x` is `[n, inner]` row-major, the result `[numSegments, inner]`.
 * Exported for tests.
 */
export function segmentSumValues(
  x: ArrayLike<number>,
  segmentIds: ArrayLike<number>,
  numSegments: number,
  inner: number,
): Float64Array {
  const out = new Float64Array(numSegments * inner);
  for (let i = 0; i < segmentIds.length; i++) {
    const s = segmentIds[i];
    if (!(s >= 0 && s < numSegments)) continue; // TF drops negative and out-of-range ids (NaN too).
    const src = i * inner;
    const dst = Math.trunc(s) * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j];
  }
  return out;
}

function segmentSumKernel(backendName: SegmentSumBackend): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
    const { numSegments } = attrs as unknown as SegmentSumAttrs;
    const b = backend as ReadableBackend;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') {
      throw new Error(`UnsortedSegmentSum on ${backendName}: x must be float32 or int32, got ${x.dtype}`);
    }
    if (segmentIds.shape.length !== 1 || segmentIds.shape[0] !== x.shape[0]) {
      throw new Error(
        `UnsortedSegmentSum on ${backendName}: segmentIds must have shape [${x.shape[0]}] (x.shape[0]), ` +
          `got [${segmentIds.shape.join(', ')}]`,
      );
    }
    const inner = x.shape.slice(1).reduce((p, d) => p * d, 1);
    const sums = segmentSumValues(
      b.readSync(x.dataId) as ArrayLike<number>,
      b.readSync(segmentIds.dataId) as ArrayLike<number>,
      numSegments,
      inner,
    );
    const values = x.dtype === 'float32' ? Float32Array.from(sums) : Int32Array.from(sums);
    const shape = [numSegments, ...x.shape.slice(1)];
    if (backendName === 'wasm') return b.makeOutput!(shape, x.dtype, undefined, values);
    return b.makeTensorInfo!(shape, x.dtype, values);
  };
}

/** Registers this kernel for `backendName`, replacing any existing `UnsortedSegmentSum` kernel there. */
export function installSegmentSumKernel(backendName: SegmentSumBackend): void {
  if (tf.getKernel(tf.UnsortedSegmentSum, backendName) != null) tf.unregisterKernel(tf.UnsortedSegmentSum, backendName);
  tf.registerKernel({ kernelName: tf.UnsortedSegmentSum, backendName, kernelFunc: segmentSumKernel(backendName) });
}
