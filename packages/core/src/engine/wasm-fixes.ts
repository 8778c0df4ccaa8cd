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
 *
 * Everything here is idempotent and reversible (`applyWasmFixes([])` restores stock kernels), which the
 * engine bench uses to time wasm with and without the fixes.
 */
import * as tf from '@tensorflow/tfjs';

import { setExplicitTransposeGradient } from './gradients';
import { installSegmentSumKernel } from './segment-sum';

/** One fix that can be switched on or off. */
export type WasmFixName = 'unsorted-segment-sum' | 'matmul-transpose-kernel' | 'matmul-transpose-grad';

/** All wasm fixes, in the order they are applied. */
export const WASM_FIXES: readonly WasmFixName[] = [
  'unsorted-segment-sum',
  'matmul-transpose-kernel',
  'matmul-transpose-grad',
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
      for (const name of MATMUL_KERNELS) {
        const stock = tf.getKernel(name, 'wasm');
        if (stock == null) throw new Error(`wasm fixes: kernel '${name}' is not registered for wasm`);
        stockMatMulKernels.set(name, stock);
        replaceKernel({ ...stock, kernelFunc: untransposedMatMul(stock.kernelFunc) });
      }
      return;
    case 'matmul-transpose-grad':
      setExplicitTransposeGradient('wasm', true);
      return;
  }
}

function uninstall(fix: WasmFixName): void {
  switch (fix) {
    case 'unsorted-segment-sum':
      tf.unregisterKernel(tf.UnsortedSegmentSum, 'wasm');
      return;
    case 'matmul-transpose-kernel':
      for (const [, stock] of stockMatMulKernels) replaceKernel(stock);
      stockMatMulKernels.clear();
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

/** The wasm backend's bookkeeping for intermediate results. */
interface WasmBackendLike {
  disposeData(dataId: object): boolean;
}

/**
 * Wraps a wasm matmul kernel: transposed operands are materialised with the wasm `Transpose` kernel
 * (swapping the last two axes), then `stock` runs with both flags off.
 */
function untransposedMatMul(stock: tf.KernelFunc): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return stock({ inputs, backend, attrs });
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
    try {
      return stock({
        inputs: { ...inputs, a: a2, b: b2 },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
    } finally {
      const wasm = backend as WasmBackendLike;
      if (a2 !== a) wasm.disposeData(a2.dataId);
      if (b2 !== b) wasm.disposeData(b2.dataId);
    }
  };
}
