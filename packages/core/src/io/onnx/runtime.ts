/**
 * The one adapter to ONNX Runtime (`onnxruntime-node`, an optional dependency). It is imported
 * lazily, on the first call, so importing @dalm/core never loads the native library; without the
 * package installed `loadOnnxRuntime()` resolves to null and callers fall back to tfjs.
 */
import os from 'node:os';
import type * as OrtModule from 'onnxruntime-node';

/** The onnxruntime-node module. */
export type OnnxRuntime = typeof OrtModule;
/** An open inference session. */
export type OnnxSession = OrtModule.InferenceSession;
/** A tensor passed to or returned by a session. */
export type OnnxTensor = OrtModule.Tensor;

/** Which runtime runs inference: ONNX Runtime, tfjs, or ONNX Runtime when installed ('auto'). */
export type InferenceRuntime = 'onnx' | 'tfjs';
export type InferenceRuntimeChoice = InferenceRuntime | 'auto';
export const INFERENCE_RUNTIME_CHOICES: readonly InferenceRuntimeChoice[] = Object.freeze(['auto', 'onnx', 'tfjs']);

/** Load-time options of a session. */
export interface OnnxSessionOptions {
  /** Intra-op threads. Default: every core (os.availableParallelism()). */
  threads?: number;
}

let ortPromise: Promise<OnnxRuntime | null> | undefined;
let loadError: string | null = null;

/** The onnxruntime-node module, or null when it is not installed (or its native library fails to load). */
export function loadOnnxRuntime(): Promise<OnnxRuntime | null> {
  ortPromise ??= import('onnxruntime-node').then(
    (m) => ((m as { default?: OnnxRuntime }).default ?? m) as OnnxRuntime,
    (e: unknown) => {
      loadError = (e as Error).message.split('\n')[0] ?? String(e);
      return null;
    },
  );
  return ortPromise;
}

/** The onnxruntime-node module; throws a one-line error saying how to install it when it is missing. */
export async function requireOnnxRuntime(): Promise<OnnxRuntime> {
  const ort = await loadOnnxRuntime();
  if (!ort) {
    throw new Error(
      `--runtime onnx needs the optional package onnxruntime-node (${loadError ?? 'not installed'}): ` +
        'install it with `ONNXRUNTIME_NODE_INSTALL_CUDA=skip pnpm add onnxruntime-node@1.21.0`, or use --runtime tfjs',
    );
  }
  return ort;
}

/** Default intra-op thread count: every core. */
export function defaultOnnxThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Resolves a runtime choice: 'auto' is 'onnx' when onnxruntime-node loads, else 'tfjs';
 * 'onnx' without the package throws (see requireOnnxRuntime).
 */
export async function resolveInferenceRuntime(choice: InferenceRuntimeChoice = 'auto'): Promise<InferenceRuntime> {
  if (!INFERENCE_RUNTIME_CHOICES.includes(choice)) {
    throw new Error(`--runtime must be one of ${INFERENCE_RUNTIME_CHOICES.join(', ')}, got "${choice as string}"`);
  }
  if (choice === 'tfjs') return 'tfjs';
  if (choice === 'onnx') {
    await requireOnnxRuntime();
    return 'onnx';
  }
  return (await loadOnnxRuntime()) ? 'onnx' : 'tfjs';
}

/**
 * Opens an inference session on a model file (or its bytes) on the CPU execution provider, with all
 * graph optimisations and `threads` intra-op threads.
 *
 * @example
 * const { session } = await createOnnxSession('models/retriever/onnx/model.onnx');
 */
export async function createOnnxSession(
  model: string | Uint8Array,
  opts: OnnxSessionOptions = {},
): Promise<{ session: OnnxSession; threads: number; ort: OnnxRuntime }> {
  const ort = await requireOnnxRuntime();
  const threads = opts.threads ?? defaultOnnxThreads();
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`ONNX Runtime: threads must be a positive integer, got ${threads}`);
  const options: OrtModule.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
  return { session, threads, ort };
}

/** What `dalm doctor` reports about ONNX Runtime. */
export interface OnnxRuntimeInfo {
  available: boolean;
  /** onnxruntime-node version, when available. */
  version: string | null;
  /** Intra-op threads sessions get by default. */
  threads: number;
  /** Why it is unavailable. */
  reason: string | null;
}

/** Whether ONNX Runtime is installed, its version and default thread count. */
export async function onnxRuntimeInfo(): Promise<OnnxRuntimeInfo> {
  const ort = await loadOnnxRuntime();
  return {
    available: ort !== null,
    version: ort ? ((ort.env as { versions?: { node?: string } }).versions?.node ?? null) : null,
    threads: defaultOnnxThreads(),
    reason: ort ? null : (loadError ?? 'onnxruntime-node is not installed'),
  };
}
