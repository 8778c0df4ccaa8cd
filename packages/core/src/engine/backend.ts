/**
 * The one place that chooses the tfjs backend.
 *
 * `initEngine()` picks, in 'auto' mode, the first of these that loads and runs a smoke test:
 *   1. `tensorflow-gpu`: `@tensorflow/tfjs-node-gpu` (native TensorFlow with CUDA)
 *   2. `tensorflow`:     `@tensorflow/tfjs-node` (native TensorFlow on CPU)
 *   3. `wasm`:           `@tensorflow/tfjs-backend-wasm` (+ the fixes in wasm-fixes.ts)
 *   4. `cpu`:            the pure-JS backend bundled with `@tensorflow/tfjs`
 * `webgpu` (`@tensorflow/tfjs-backend-webgpu` + the `webgpu` package, Dawn, in Node; see webgpu.ts) is tried only
 * on request: under Node it cannot read tensors synchronously, and its kernels are checked on a software adapter only.
 * The optional packages are not dependencies: they are loaded with `import()` of a computed specifier,
 * and a failure to load is recorded as the reason the candidate was skipped.
 *
 * Choice: `options.backend`, else `$DALM_BACKEND`, else 'auto'. A backend asked for by name that cannot
 * be used is an error that says why and lists what is available.
 */
import * as tf from '@tensorflow/tfjs';

import { installFrugalBackprop } from './backprop';
import { registerEngineGradients } from './gradients';
import {
  BACKEND_CHOICES,
  defaultLoader,
  listAvailable,
  selectBackend,
  type BackendChoice,
  type BackendName,
  type CandidateReport,
  type ModuleLoader,
  type NativeInfo,
} from './select-backend';
import { installSegmentSumKernel } from './segment-sum';
import { applyWasmFixes, validateWasmFixes, WASM_FIXES, type WasmFixName } from './wasm-fixes';
import { validateWebGpuOptions, type WebGpuInfo, type WebGpuOptions } from './webgpu';
import { applyWebGpuFixes } from './webgpu-fixes';

export {
  AUTO_ORDER,
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendName,
  type CandidateReport,
  type ModuleLoader,
  type NativeInfo,
} from './select-backend';
export {
  DEFAULT_WEBGPU_OPTIONS,
  type WebGpuFeatureLevel,
  type WebGpuInfo,
  type WebGpuOptions,
  type WebGpuPowerPreference,
} from './webgpu';

/** Options of `initEngine`. */
export interface EngineOptions {
  /** Backend to use. Default: `$DALM_BACKEND`, else 'auto'. */
  backend?: BackendChoice;
  /** wasm worker threads (browsers only: tfjs 4.22 has no wasm threads under Node). Default: tfjs' choice. */
  threads?: number;
  /** wasm fixes to apply when wasm is active. Default: all of `WASM_FIXES`. */
  wasmFixes?: readonly WasmFixName[];
  /** WebGPU adapter options. Default: `$DALM_WEBGPU_FLAGS`, `$DALM_WEBGPU_FEATURE_LEVEL`, else `DEFAULT_WEBGPU_OPTIONS`. */
  webgpu?: WebGpuOptions;
  /** Module loader for the optional backend packages. Default: `import()`. */
  loader?: ModuleLoader;
  /** Where `DALM_BACKEND` and `DALM_WEBGPU_*` are read. Default: `process.env`. */
  env?: Record<string, string | undefined>;
}

/** wasm details. */
export interface WasmInfo {
  simd: boolean | null;
  /** Whether the threaded build is usable (false under Node in tfjs 4.22). */
  multithreading: boolean | null;
  threads: number | null;
  fixes: WasmFixName[];
}

/** Memory in bytes: the process's and tfjs' own count. */
export interface MemorySnapshot {
  process: { rss: number; heapUsed: number; external: number; arrayBuffers: number } | null;
  tf: tf.MemoryInfo;
}

/** What `initEngine` chose and how; `engineInfo()` refreshes `memory`. */
export interface EngineInfo {
  backend: BackendName;
  /** The name tfjs knows the backend by (`tf.getBackend()`). */
  tfBackend: string;
  requested: BackendChoice;
  /** Where the request came from. */
  requestedBy: 'option' | 'DALM_BACKEND' | 'default';
  tfjsVersion: string;
  native: NativeInfo | null;
  wasm: WasmInfo | null;
  /** The WebGPU adapter, when the backend is webgpu. */
  webgpu: WebGpuInfo | null;
  /** Kernels/gradients the engine registered (see gradients.ts, wasm-fixes.ts, segment-sum.ts). */
  fixes: string[];
  /** Candidates tried, in order. */
  candidates: CandidateReport[];
  notes: string[];
  memory: MemorySnapshot;
}

type EngineState = Omit<EngineInfo, 'memory'>;
let current: EngineState | null = null;
let queue: Promise<unknown> = Promise.resolve();

/**
 * Chooses and initialises the tfjs backend. Idempotent: once initialised, a call asking for 'auto' (or
 * for the active backend) returns the current engine; asking for another backend by name switches to it.
 * Concurrent calls run one after another.
 *
 * @example
 *   const info = await initEngine();                 // auto, or $DALM_BACKEND
 *   await initEngine({ backend: 'wasm' });           // throws if wasm cannot be used, saying why
 *   console.log(engineInfo().backend, engineInfo().candidates);
 */
export function initEngine(options: EngineOptions = {}): Promise<EngineInfo> {
  const run = queue.then(() => initOnce(options));
  queue = run.catch(() => undefined);
  return run;
}

/** The current engine, with fresh memory numbers. Throws before `initEngine`. */
export function engineInfo(): EngineInfo {
  if (current == null) throw new Error('engineInfo(): the engine is not initialised; call await initEngine() first');
  return { ...structuredClone(current), memory: memorySnapshot() };
}

async function initOnce(options: EngineOptions): Promise<EngineInfo> {
  const { choice, by } = resolveChoice(options);
  if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) {
    throw new Error(`initEngine: option threads=${String(options.threads)} must be a positive integer`);
  }
  const wantedFixes = validateWasmFixes(options.wasmFixes ?? WASM_FIXES, 'initEngine option wasmFixes');
  const webgpu = validateWebGpuOptions(options.webgpu, envOf(options));
  if (current != null && (choice === 'auto' || choice === current.backend)) {
    if (tf.getBackend() !== current.tfBackend) {
      // Someone called tf.setBackend behind the engine's back; this module is where the backend is chosen.
      current.notes.push(
        `tf.setBackend('${tf.getBackend()}') was called outside initEngine; restored '${current.tfBackend}'`,
      );
      await tf.setBackend(current.tfBackend);
    }
    if (current.backend === 'wasm') syncWasm(current, wantedFixes);
    return engineInfo();
  }
  const previous = current != null ? tf.getBackend() : null;
  const selected = await selectBackend(choice, {
    loader: options.loader ?? defaultLoader,
    threads: options.threads,
    webgpu,
  });
  if (!selected.ok) {
    if (previous != null) await tf.setBackend(previous);
    const available = await listAvailable(options.loader ?? defaultLoader, choice);
    throw new Error(
      `Backend '${choice}' was requested (${by === 'option' ? 'initEngine option backend' : by}) ` +
        `but cannot be used: ${selected.candidates.map((c) => `${c.backend}: ${c.reason}`).join('; ')}. ` +
        `Available here: ${available.join(', ')}.`,
    );
  }
  const fixes = [...registerEngineGradients()];
  // Frees saved tensors and intermediate gradients during the backward pass (see backprop.ts).
  installFrugalBackprop();
  fixes.push('engine:frugal-backprop');
  if (selected.backend === 'cpu') {
    // The stock cpu kernel loops once per segment (vocabulary entry); see segment-sum.ts.
    installSegmentSumKernel('cpu');
    fixes.push('cpu:UnsortedSegmentSum(scatter-add)');
  }
  if (selected.backend === 'webgpu') fixes.push(...applyWebGpuFixes().map((f) => `webgpu:${f}`));
  current = {
    backend: selected.backend,
    tfBackend: tf.getBackend(),
    requested: choice,
    requestedBy: by,
    tfjsVersion: tf.version.tfjs,
    native: selected.native ?? null,
    wasm: null,
    webgpu: selected.webgpu ?? null,
    fixes,
    candidates: selected.candidates,
    notes: selected.notes,
  };
  if (selected.backend === 'wasm') {
    current.wasm = await wasmInfo(selected.module);
    syncWasm(current, wantedFixes);
  }
  return engineInfo();
}

/** Applies exactly `wanted` wasm fixes and records them. */
function syncWasm(state: EngineState, wanted: WasmFixName[]): void {
  const active = applyWasmFixes(wanted);
  if (state.wasm != null) state.wasm.fixes = active;
  state.fixes = [...state.fixes.filter((f) => !f.startsWith('wasm:')), ...active.map((f) => `wasm:${f}`)];
}

function resolveChoice(options: EngineOptions): { choice: BackendChoice; by: EngineInfo['requestedBy'] } {
  if (options.backend !== undefined) {
    return { choice: checkChoice(options.backend, 'initEngine option backend'), by: 'option' };
  }
  const fromEnv = envOf(options).DALM_BACKEND?.trim();
  if (fromEnv) return { choice: checkChoice(fromEnv, 'environment variable DALM_BACKEND'), by: 'DALM_BACKEND' };
  return { choice: 'auto', by: 'default' };
}

function envOf(options: EngineOptions): Record<string, string | undefined> {
  return options.env ?? (typeof process !== 'undefined' ? process.env : {});
}

function checkChoice(value: string, where: string): BackendChoice {
  if (!(BACKEND_CHOICES as readonly string[]).includes(value)) {
    throw new Error(`${where}='${value}' is not a backend; valid values: ${BACKEND_CHOICES.join(', ')}`);
  }
  return value as BackendChoice;
}

async function wasmInfo(module: unknown): Promise<WasmInfo> {
  const flag = async (name: string): Promise<boolean | null> => {
    try {
      return Boolean(await tf.env().getAsync(name));
    } catch {
      return null;
    }
  };
  const getThreads = (module as { getThreadsCount?: () => number } | null)?.getThreadsCount;
  let threads: number | null = null;
  try {
    threads = typeof getThreads === 'function' ? getThreads() : null;
  } catch {
    threads = null;
  }
  return {
    simd: await flag('WASM_HAS_SIMD_SUPPORT'),
    multithreading: await flag('WASM_HAS_MULTITHREAD_SUPPORT'),
    threads,
    fixes: [],
  };
}

function memorySnapshot(): MemorySnapshot {
  let proc: MemorySnapshot['process'] = null;
  if (typeof process !== 'undefined' && typeof process.memoryUsage === 'function') {
    const m = process.memoryUsage();
    proc = { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
  }
  return { process: proc, tf: tf.memory() };
}
