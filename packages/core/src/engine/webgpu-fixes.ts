/**
 * Fixes for the tfjs 4.22 `webgpu` backend, applied by `initEngine` whenever webgpu is active. All are
 * bugs in how tfjs-backend-webgpu generates shaders, found on a real (software) adapter by
 * engine-webgpu-ops.test.ts and test/webgpu-training.test.ts; all are fixed where every kernel's
 * program passes, `WebGPUBackend.runWebGPUProgram`, so kernels that call these programs internally
 * (reductions and cumulative scans over a non-last axis transpose first) are fixed too.
 *
 * - `cum-length-key`: the `Cumsum`/`Cumprod` shader writes the axis length into its code
 *   (`end + pow2 < length` when `reverse`) but leaves it out of its cache key, so after one reverse scan
 *   every later reverse scan over another length reuses that shader and gives wrong sums (the cumsum
 *   gradient is a reverse scan). Adds the length to the key.
 * - `transpose-types`: the general `Transpose` shader (any permutation but a 2-D `[1, 0]`) passes the
 *   input element, typed as the input *buffer* is, to the output setter, typed as the output is. WGSL
 *   rejects the mismatch and the result is zeros: int32/bool transposes of rank >= 3, int32 reductions
 *   over a non-last axis (which transpose first), and float32 tensors cast from int32, whose buffer
 *   stays i32 (webgpu's `Cast` to a wider type only relabels it: BERT's attention mask). Converts the
 *   element to the output's type and uses the matching setter.
 * - `splitk-transpose-b`: for a matmul with few output tiles and a long inner dimension (batch 1,
 *   K >= 2000: e.g. the gradient of a tied LM head, `dy [n, vocab] · E`, taken as `matMul(dy, Eᵀ, false,
 *   true)`), the split-K program reads A and B four floats at a time whenever K and N are multiples
 *   of 4, also when B is transposed, where four consecutive floats run along K instead of N: the result
 *   is wrong (the stock tiled program turns vec4 off for a transposed B). Turns vec4 off there too:
 *   the same program tfjs builds when K or N is not a multiple of 4.
 *
 * Idempotent; `applyWebGpuFixes([])` turns them off (the backend then runs the stock programs).
 */
import type * as tf from '@tensorflow/tfjs';

/** One fix that can be switched on or off. */
export type WebGpuFixName = 'cum-length-key' | 'transpose-types' | 'splitk-transpose-b';

/** All webgpu fixes, in the order they are applied. */
export const WEBGPU_FIXES: readonly WebGpuFixName[] = ['cum-length-key', 'transpose-types', 'splitk-transpose-b'];

const applied = new Set<WebGpuFixName>();

/** The parts of a tfjs-backend-webgpu program the fixes read and change. */
export interface WebGpuProgramLike {
  shaderKey: string;
  outputShape: number[];
  getUserCode(): string;
}

/** The fields of tfjs-backend-webgpu's `MatMulSplitKProgram` that decide its vector width (read by `getUserCode`). */
interface SplitKProgramLike extends WebGpuProgramLike {
  transposeA: boolean;
  transposeB: boolean;
  outputComponent: number;
  /** [cols, rows, inner] per thread. */
  elementsPerThread: [number, number, number];
  workgroupSize: [number, number, number];
  dispatch: [number, number, number];
}

/** `WebGPUBackend.runWebGPUProgram(program, inputs, outputDtype, uniforms?, output?)`. */
type RunProgram = (
  program: WebGpuProgramLike,
  inputs: tf.TensorInfo[],
  outputDtype?: tf.DataType,
  ...rest: unknown[]
) => tf.TensorInfo;

const PATCHED = Symbol.for('dalm.webgpuProgramFixes');

/**
 * Makes exactly `fixes` active (for every webgpu backend made by `prepareWebGpu`). Returns them.
 *
 * @example
 *   applyWebGpuFixes();   // all of WEBGPU_FIXES
 *   applyWebGpuFixes([]); // stock programs
 */
export function applyWebGpuFixes(fixes: readonly WebGpuFixName[] = WEBGPU_FIXES): WebGpuFixName[] {
  for (const f of fixes) {
    if (!WEBGPU_FIXES.includes(f))
      throw new Error(`applyWebGpuFixes: unknown fix '${f}'; valid fixes: ${WEBGPU_FIXES.join(', ')}`);
  }
  applied.clear();
  for (const f of fixes) applied.add(f);
  return WEBGPU_FIXES.filter((f) => applied.has(f));
}

/**
 * Routes `backend.runWebGPUProgram` through `fixProgram` (once per backend instance). `prepareWebGpu`
 * calls it on every webgpu backend it makes; which fixes run is decided per call by `applyWebGpuFixes`.
 */
export function installProgramFixes(backend: tf.KernelBackend): void {
  const b = backend as tf.KernelBackend & { runWebGPUProgram?: RunProgram; [PATCHED]?: boolean };
  if (b[PATCHED] || typeof b.runWebGPUProgram !== 'function') return;
  const run = b.runWebGPUProgram.bind(b);
  b.runWebGPUProgram = (program, inputs, outputDtype, ...rest) => {
    fixProgram(program, outputDtype ?? (rest[1] as tf.TensorInfo | undefined)?.dtype);
    return run(program, inputs, outputDtype, ...rest);
  };
  b[PATCHED] = true;
}

/** Applies the active fixes to one program before it is compiled (or looked up in the shader cache). */
export function fixProgram(program: WebGpuProgramLike, outputDtype: tf.DataType | undefined): void {
  if (applied.has('cum-length-key') && program.shaderKey.startsWith('cum_')) {
    program.shaderKey += `_length${program.outputShape[program.outputShape.length - 1]}`;
  }
  if (applied.has('transpose-types') && program.shaderKey.startsWith('transpose_')) {
    const int = outputDtype === 'int32' || outputDtype === 'bool';
    const userCode = program.getUserCode.bind(program);
    // setOutputAtIndex(flatIndex, A[getIndexFromCoords3D(..., uniforms.aShape)]);  ->  with f32(...) or i32(...)
    program.getUserCode = () =>
      userCode().replace(
        /setOutputAtIndex\(flatIndex, (A\[getIndexFromCoords\dD\([^;]*?uniforms\.aShape\)\])\);/,
        (_, element: string) =>
          `${int ? 'setOutputAtIndexI32' : 'setOutputAtIndex'}(flatIndex, ${int ? 'i32' : 'f32'}(${element}));`,
      );
  }
  if (applied.has('splitk-transpose-b') && program.shaderKey.startsWith('matMulSplitK_')) {
    const p = program as SplitKProgramLike;
    if (p.transposeB && p.outputComponent === 4) {
      // What the MatMulSplitKProgram constructor sets when vec4 is off. outputShape: [1, rows, cols].
      const [, rows, cols] = p.outputShape as [number, number, number];
      p.outputComponent = 1;
      p.elementsPerThread = [cols < 16 ? 1 : 4, rows < 16 ? 1 : 4, p.elementsPerThread[2]];
      p.dispatch = [
        Math.ceil(cols / (p.workgroupSize[0] * p.elementsPerThread[0])),
        Math.ceil(rows / (p.workgroupSize[1] * p.elementsPerThread[1])),
        p.dispatch[2], // batch · inner / split: unchanged
      ];
      p.shaderKey = `matMulSplitK_${p.transposeA}_${p.transposeB}_${p.elementsPerThread}_${p.outputComponent}`;
    }
  }
}
