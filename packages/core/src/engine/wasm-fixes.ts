/**
 * Fixes for the tfjs 4.22 `wasm` backend, applied by `initEngine` whenever wasm is active.
 *
 * - `unsorted-segment-sum`: wasm has no `UnsortedSegmentSum` kernel, which `gather`'s gradient (every
 *   embedding) needs. Registers a CPU-side scatter-add (see segment-sum.ts).
 * - `matmul-transpose-kernel`: wasm's `BatchMatMul` / `_FusedMatMul` run ~10x slower with
 *   transposeA/transposeB than without (256x256: ~1 ms plain, ~11-17 ms transposed). Wraps both kernels
 *   so that a transposed operand is first materialised with wasm's (fast) `Transpose` kernel and the
 *   product runs untransposed. Same products, so the numbers match the untransposed path.
 * - `matmul-transpose-grad`: the `BatchMatMul` gradient (gradients.ts) transposes explicitly on wasm
 *   instead of passing flags. Redundant while the kernel fix is on; it stands alone when only it is
 *   selected and makes the transposes visible as ops in profiles.
 * - `matmul-batched-2d`: wasm's `BatchMatMul` runs XNNPACK only for a single matrix product; with a
 *   batch (attention's `[batch, heads, q, d] x [batch, heads, d, k]`) it falls back to a naive loop,
 *   ~7x slower (24 x [256,32]x[32,256]: 125 ms batched, 19 ms as 24 products). This runs a batched
 *   product as one XNNPACK product per batch entry, on views into the operands' wasm memory (no
 *   copies), writing each result into its slice of one output; a `b` without batch becomes one
 *   `[batch*m, k] x [k, n]` product. Same kernel per matrix, so the numbers are the same.
 *
 * Everything here is idempotent and reversible (`applyWasmFixes([])` restores stock kernels), which the
 * engine bench uses to time wasm with and without the fixes.
 */
import * as tf from '@tensorflow/tfjs';

import { setExplicitTransposeGradient } from './gradients';
import { installSegmentSumKernel } from './segment-sum';

/** One fix that can be switched on or off. */
export type WasmFixName =
  | 'unsorted-segment-sum'
  | 'matmul-transpose-kernel'
  | 'matmul-transpose-grad'
  | 'matmul-batched-2d';

/** All wasm fixes, in the order they are applied. */
export const WASM_FIXES: readonly WasmFixName[] = [
  'unsorted-segment-sum',
  'matmul-transpose-kernel',
  'matmul-transpose-grad',
  'matmul-batched-2d',
];

/** Kernels the transpose fix wraps; both take inputs `a`, `b` and attrs `transposeA`, `transposeB`. */
const MATMUL_KERNELS = [tf.BatchMatMul, tf._FusedMatMul] as const;

/** The stock wasm kernel configs replaced by `matmul-transpose-kernel`, kept to restore them. */
const stockMatMulKernels = new Map<string, tf.KernelConfig>();
const applied = new Set<WasmFixName>();

/** Throws unless every name is a known fix. */
export function validateWasmFixes(fixes: readonly string[], where: string): WasmFixName[] {
  for (const f of fixes) {
    if (!(WASM_FIXES as readonly string[]).includes(f)) {
      throw new Error(`${where}: unknown wasm fix '${f}'; valid fixes: ${WASM_FIXES.join(', ')}`);
    }
  }
  return WASM_FIXES.filter((f) => fixes.includes(f));
}

/** The fixes currently applied, in `WASM_FIXES` order. */
export function activeWasmFixes(): WasmFixName[] {
  return WASM_FIXES.filter((f) => applied.has(f));
}

/**
 * Makes exactly `fixes` active: applies the missing ones and undoes the others. Needs the wasm backend
 * to be registered (`@tensorflow/tfjs-backend-wasm` imported). Returns the active fixes.
 *
 * @example
 *   applyWasmFixes(WASM_FIXES);        // everything
 *   applyWasmFixes(['unsorted-segment-sum']); // only the missing kernel: stock (slow) transposed matmul
 */
export function applyWasmFixes(fixes: readonly WasmFixName[] = WASM_FIXES): WasmFixName[] {
  const wanted = new Set(validateWasmFixes(fixes, 'applyWasmFixes'));
  for (const fix of WASM_FIXES) {
    if (wanted.has(fix) && !applied.has(fix)) {
      install(fix);
      applied.add(fix);
    } else if (!wanted.has(fix) && applied.has(fix)) {
      uninstall(fix);
      applied.delete(fix);
    }
  }
  return activeWasmFixes();
}

function install(fix: WasmFixName): void {
  switch (fix) {
    case 'unsorted-segment-sum':
      installSegmentSumKernel('wasm');
      return;
    case 'matmul-transpose-kernel':
      matMulFlags.untranspose = true;
      wrapMatMulKernels();
      return;
    case 'matmul-batched-2d':
      matMulFlags.batched2d = true;
      wrapMatMulKernels();
      return;
    case 'matmul-transpose-grad':
      setExplicitTransposeGradient('wasm', true);
      return;
  }
}

/** What the wrapped matmul kernels do; the wrapper is installed while either is on. */
const matMulFlags = { untranspose: false, batched2d: false };

function wrapMatMulKernels(): void {
  if (stockMatMulKernels.size > 0) return;
  for (const name of MATMUL_KERNELS) {
    const stock = tf.getKernel(name, 'wasm');
    if (stock == null) throw new Error(`wasm fixes: kernel '${name}' is not registered for wasm`);
    stockMatMulKernels.set(name, stock);
    const batched = name === tf.BatchMatMul; // _FusedMatMul carries bias/activation: kept on its stock path
    replaceKernel({ ...stock, kernelFunc: fixedMatMul(stock.kernelFunc, batched) });
  }
}

function unwrapMatMulKernels(): void {
  if (matMulFlags.untranspose || matMulFlags.batched2d) return;
  for (const [, stock] of stockMatMulKernels) replaceKernel(stock);
  stockMatMulKernels.clear();
}

function uninstall(fix: WasmFixName): void {
  switch (fix) {
    case 'unsorted-segment-sum':
      tf.unregisterKernel(tf.UnsortedSegmentSum, 'wasm');
      return;
    case 'matmul-transpose-kernel':
      matMulFlags.untranspose = false;
      unwrapMatMulKernels();
      return;
    case 'matmul-batched-2d':
      matMulFlags.batched2d = false;
      unwrapMatMulKernels();
      return;
    case 'matmul-transpose-grad':
      setExplicitTransposeGradient('wasm', false);
      return;
  }
}

/** Registers `config`, first removing any kernel under the same name (avoids tfjs' "already registered" warning). */
function replaceKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName) != null) {
    tf.unregisterKernel(config.kernelName, config.backendName);
  }
  tf.registerKernel(config);
}

/** The parts of the wasm backend (tfjs-backend-wasm 4.22 `BackendWasm`) the matmul fixes use. */
interface WasmBackendLike {
  disposeData(dataId: object): boolean;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  wasm: {
    cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
}

/** The wasm `BatchMatMul` entry point (its JS kernel's own cwrap signature), bound once per module. */
let wasmBatchMatMul: { module: unknown; fn: (...args: unknown[]) => void } | null = null;

function batchMatMulFn(backend: WasmBackendLike): (...args: unknown[]) => void {
  if (wasmBatchMatMul?.module !== backend.wasm) {
    const fn = backend.wasm.cwrap(tf.BatchMatMul, null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
    ]);
    wasmBatchMatMul = { module: backend.wasm, fn };
  }
  return wasmBatchMatMul.fn;
}

const shapeBytes = (shape: number[]): Uint8Array => new Uint8Array(new Int32Array(shape).buffer);

/**
 * `a [..., m, k] x b [..., k, n]` (no transpose flags) as XNNPACK products of single matrices, or null
 * when the stock kernel is as good (no batch) or the batch dimensions broadcast other than all-or-one.
 */
function batchedAs2d(backend: WasmBackendLike, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 3 || b.shape.length < 2) return null;
  const m = a.shape[a.shape.length - 2]!;
  const k = a.shape[a.shape.length - 1]!;
  const n = b.shape[b.shape.length - 1]!;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = tf.util.sizeFromShape(outerA);
  const batchB = tf.util.sizeFromShape(outerB);
  const batch = Math.max(batchA, batchB);
  if (batch <= 1 || b.shape[b.shape.length - 2] !== k) return null;
  let outer: number[];
  if (tf.util.arraysEqual(outerA, outerB)) outer = outerA;
  else if (batchB === 1 && outerB.every((d) => d === 1)) outer = outerA;
  else if (batchA === 1 && outerA.every((d) => d === 1)) outer = outerB;
  else return null;
  const matmul = batchMatMulFn(backend);
  const out = backend.makeOutput([batch, m, n], 'float32');
  const idOf = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId);
  const ta = idOf(a);
  const tb = idOf(b);
  const to = idOf(out);
  if (batchB === 1) {
    // One product: a's rows are contiguous across the batch.
    matmul(ta.id, shapeBytes([1, batch * m, k]), 3, tb.id, shapeBytes([1, k, n]), 3, false, false, to.id);
  } else {
    const views: number[] = [];
    const view = (offset: number, size: number): number => {
      const id = backend.dataIdNextNumber++;
      backend.wasm.tfjs.registerTensor(id, size, offset);
      views.push(id);
      return id;
    };
    try {
      for (let i = 0; i < batch; i++) {
        const ai = batchA === 1 ? ta.id : view(ta.memoryOffset + i * m * k * 4, m * k);
        const bi = view(tb.memoryOffset + i * k * n * 4, k * n);
        const oi = view(to.memoryOffset + i * m * n * 4, m * n);
        matmul(ai, shapeBytes([1, m, k]), 3, bi, shapeBytes([1, k, n]), 3, false, false, oi);
      }
    } finally {
      // Unregister the views only: their memory belongs to a, b and out (and XNNPACK drops operators cached for them).
      for (const id of views) backend.wasm.tfjs.disposeData(id);
    }
  }
  return { dataId: out.dataId, shape: [...outer, m, n], dtype: 'float32' };
}

/**
 * Wraps a wasm matmul kernel: with `matmul-transpose-kernel`, transposed operands are materialised with
 * the wasm `Transpose` kernel (swapping the last two axes) and the product runs with both flags off;
 * with `matmul-batched-2d` (BatchMatMul only), a batched product runs as single-matrix products.
 */
function fixedMatMul(stock: tf.KernelFunc, batchable: boolean): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const untranspose = matMulFlags.untranspose && (transposeA || transposeB);
    const batched = batchable && matMulFlags.batched2d;
    if (!untranspose && !(batched && !transposeA && !transposeB)) return stock({ inputs, backend, attrs });
    const transposeKernel = tf.getKernel(tf.Transpose, 'wasm');
    if (transposeKernel == null) throw new Error(`wasm fixes: kernel 'Transpose' is not registered for wasm`);
    const swapLastTwo = (x: tf.TensorInfo): tf.TensorInfo => {
      const perm = x.shape.map((_, i) => i);
      perm[perm.length - 2] = perm.length - 1;
      perm[perm.length - 1] = perm.length - 2;
      return transposeKernel.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
    };
    const a = inputs.a as tf.TensorInfo;
    const b = inputs.b as tf.TensorInfo;
    const a2 = transposeA ? swapLastTwo(a) : a; // [..., m, k]
    const b2 = transposeB ? swapLastTwo(b) : b; // [..., k, n]
    const wasm = backend as unknown as WasmBackendLike;
    try {
      const out = batched ? batchedAs2d(wasm, a2, b2) : null;
      return (
        out ??
        stock({
          inputs: { ...inputs, a: a2, b: b2 },
          backend,
          attrs: { ...attrs, transposeA: false, transposeB: false },
        })
      );
    } finally {
      if (a2 !== a) wasm.disposeData(a2.dataId);
      if (b2 !== b) wasm.disposeData(b2.dataId);
    }
  };
}
