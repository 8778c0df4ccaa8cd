/**
 * Memory limits of training, and what to do when they are hit.
 *
 * The wasm backend runs in one WebAssembly memory that stops at 4 GiB (tfjs-backend-wasm 4.22:
 * `getHeapMax() = 4294901760`). When an allocation fails the module aborts and cannot run another
 * kernel: every later call fails with the same `Aborted()`, so a run cannot probe a size, catch the
 * failure and retry smaller. Sizes are therefore estimated up front (`estimateBackpropBytes`) and a
 * failure that still happens is turned into an `OutOfMemoryError` naming the options to lower
 * (`explainOutOfMemory`) instead of "table index is out of bounds" or "memory access out of bounds".
 */
import * as tf from '@tensorflow/tfjs';

/** The largest wasm heap (bytes): 65536 pages of 64 KiB minus one page, as tfjs-backend-wasm 4.22 builds it. */
export const WASM_HEAP_MAX_BYTES = 4294901760;

/** What the wasm module says when an allocation fails or a failed allocation is used. */
const WASM_OOM_PATTERNS = [
  /Aborted\(/,
  /table index is out of bounds/,
  /memory access out of bounds/,
  /out of memory/i,
  /Cannot enlarge memory/,
  /Array buffer allocation failed/,
];

/** An out-of-memory failure, with the settings that would avoid it. */
export class OutOfMemoryError extends Error {
  override readonly name = 'OutOfMemoryError';
  constructor(
    message: string,
    /** The error the backend raised. */
    readonly original: unknown,
  ) {
    super(message);
  }
}

/** Whether `err` is the wasm module running out of memory (or failing on memory it could not allocate). */
export function isWasmOutOfMemory(err: unknown): boolean {
  if (err instanceof OutOfMemoryError) return true;
  const e = err as { name?: unknown; message?: unknown } | null;
  const isRuntimeError =
    err instanceof WebAssembly.RuntimeError || e?.name === 'RuntimeError' || e instanceof RangeError;
  return isRuntimeError && typeof e?.message === 'string' && WASM_OOM_PATTERNS.some((p) => p.test(e.message as string));
}

/** Bytes of the wasm heap now (its current size, not its limit), or null when wasm is not the backend. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
  return wasm?.HEAPU8?.length ?? null;
}

/**
 * Turns a wasm out-of-memory failure into an `OutOfMemoryError` that says what ran out, what was
 * attempted (`what`) and which settings to lower (`advice`, e.g. `--grad-cache-chunk 4`); any other
 * error is returned unchanged.
 *
 * @example
 *   try { step(); } catch (e) { throw explainOutOfMemory(e, 'train step 3', ['--batch-size', '--max-seq-length']); }
 */
export function explainOutOfMemory(err: unknown, what: string, advice: readonly string[]): unknown {
  if (err instanceof OutOfMemoryError || !isWasmOutOfMemory(err)) return err;
  const heap = wasmHeapBytes();
  const held = safeMemoryBytes();
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const state = [held != null ? `${gib(held)} in tensors` : null, heap != null ? `heap ${gib(heap)}` : null]
    .filter(Boolean)
    .join(', ');
  const msg =
    `${what} ran out of memory: the wasm backend's heap stops at ${gib(WASM_HEAP_MAX_BYTES)}` +
    `${state ? ` (${state} when it failed)` : ''}. Lower ${joinOr(advice)}. ` +
    `The wasm module cannot continue after this: start a new process. (wasm said: ${String((err as Error)?.message ?? err).split('\n')[0]})`;
  return new OutOfMemoryError(msg, err);
}

function safeMemoryBytes(): number | null {
  try {
    return tf.memory().numBytes;
  } catch {
    return null;
  }
}

function joinOr(xs: readonly string[]): string {
  if (xs.length <= 1) return xs.join('');
  return `${xs.slice(0, -1).join(', ')}, or ${xs.at(-1)}`;
}

/** The shape of a transformer stack, for memory estimates. */
export interface TransformerShape {
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  /** Parameters in all (embeddings included). */
  params: number;
  /** Vocabulary of an LM head over every position (decoders); absent for encoders. */
  vocab?: number;
}

/** Options of `estimateBackpropBytes`. */
export interface BackpropEstimateOptions {
  /** Blocks recompute their forward in the backward (see checkpoint.ts). */
  checkpointing: boolean;
  /** Trainable parameters (each has a gradient and two AdamW moments). Default: all. */
  trainableParams?: number;
}

/**
 * Float32 values backprop keeps per token: per block, per hidden and per intermediate unit and per
 * attention score (heads × keys); per checkpointed block, per hidden unit (its input, and the gradient
 * flowing back, measured ~2.3 per hidden unit at bge-small shape, counted as 3); outside the blocks (embeddings, their norm and dropout, pooling), per hidden unit. Measured with `tf.profile` peak bytes on a bge-small-shaped BERT (384 hidden, 1536
 * intermediate, 12 heads) on wasm at 128 and 256 tokens per sequence, rounded up so that they also cover
 * a 2 x 64 BERT (packages/trainer/test/memory-plan.test.ts checks both ends).
 */
export const BACKPROP_FLOATS_PER_TOKEN = {
  hidden: 32,
  intermediate: 18,
  score: 2,
  checkpointedHidden: 3,
  embedding: 48,
} as const;

/**
 * Bytes a forward + backward over `sequences` sequences of `seqLen` tokens needs at most: the tensors
 * backprop keeps (every block's intermediates, or with checkpointing every block's input plus one
 * block's intermediates), the logits of an LM head (`shape.vocab`), the parameters, their gradients
 * and the AdamW moments.
 *
 * @example
 *   estimateBackpropBytes(shape, 8, 256, { checkpointing: false }) > WASM_HEAP_MAX_BYTES  // won't fit
 */
export function estimateBackpropBytes(
  shape: TransformerShape,
  sequences: number,
  seqLen: number,
  opts: BackpropEstimateOptions,
): number {
  const f = BACKPROP_FLOATS_PER_TOKEN;
  const tokens = sequences * seqLen;
  const perBlockToken = f.hidden * shape.hidden + f.intermediate * shape.intermediate + f.score * shape.heads * seqLen;
  const blocks = opts.checkpointing
    ? shape.layers * f.checkpointedHidden * shape.hidden + perBlockToken
    : shape.layers * perBlockToken;
  const head = 3 * (shape.vocab ?? 0); // logits, their softmax, their gradient
  const trainable = opts.trainableParams ?? shape.params;
  const state = shape.params + 3 * trainable; // weights, gradients, two moments
  return 4 * (tokens * (blocks + head + f.embedding * shape.hidden) + state);
}

/** Bytes a training step may use on the active backend (wasm: its heap limit), or null when unbounded. */
export function trainingMemoryLimitBytes(): number | null {
  return tf.getBackend() === 'wasm' ? WASM_HEAP_MAX_BYTES : null;
}
