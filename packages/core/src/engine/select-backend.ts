/**
 * Trying candidate backends in order: load the package (through an injectable loader), check that it
 * registered a backend with this copy of tfjs-core, activate it, run a smoke test, and record why each
 * candidate that did not work was skipped. `initEngine` (backend.ts) is the public entry point.
 */
import * as tf from '@tensorflow/tfjs';

import { describeLoadError, firstLine, type ModuleLoader } from './module-loader';
import { prepareWebGpu, validateWebGpuOptions, type LibraryProbe, type WebGpuInfo, type WebGpuOptions } from './webgpu';

export { defaultLoader, describeLoadError, provideBackendModule, type ModuleLoader } from './module-loader';

/** A backend the engine can run on (our names; both native packages register tfjs backend 'tensorflow'). */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu' | 'webgpu';

/** What `initEngine` may be asked for. */
export type BackendChoice = 'auto' | BackendName;

/** Valid values of `EngineOptions.backend` and `$DALM_BACKEND`. */
export const BACKEND_CHOICES: readonly BackendChoice[] = [
  'auto',
  'tensorflow-gpu',
  'tensorflow',
  'wasm',
  'cpu',
  'webgpu',
];

/** The order 'auto' tries. */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** What happened to one candidate backend. */
export interface CandidateReport {
  backend: BackendName;
  /** Packages it needs. */
  modules: string[];
  status: 'selected' | 'skipped';
  /** Why it was skipped (or a remark on the selected one). */
  reason?: string;
}

/** Native TensorFlow (tfjs-node / tfjs-node-gpu) details. */
export interface NativeInfo {
  module: string;
  /** libtensorflow version, if the binding reports it. */
  tensorflowVersion: string | null;
  /** Whether TensorFlow placed ops on a GPU (null: not reported). */
  usingGpu: boolean | null;
}

const MODULES: Record<BackendName, string[]> = {
  'tensorflow-gpu': ['@tensorflow/tfjs-node-gpu'],
  tensorflow: ['@tensorflow/tfjs-node'],
  wasm: ['@tensorflow/tfjs-backend-wasm'],
  cpu: [],
  webgpu: ['@tensorflow/tfjs-backend-webgpu', 'webgpu'],
};

/** The tfjs backend each of ours registers. */
const TF_NAME: Record<BackendName, string> = {
  'tensorflow-gpu': 'tensorflow',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
  webgpu: 'webgpu',
};

/** Outcome of `selectBackend`. */
export type Selection =
  | {
      ok: true;
      backend: BackendName;
      /** The loaded package's namespace (for wasm: setThreadsCount etc.). */
      module: unknown;
      native?: NativeInfo;
      webgpu?: WebGpuInfo;
      candidates: CandidateReport[];
      notes: string[];
    }
  | { ok: false; candidates: CandidateReport[]; notes: string[] };

/** What `selectBackend` needs besides the choice. */
export interface SelectDeps {
  loader: ModuleLoader;
  /** wasm threads (browsers only). */
  threads?: number;
  /** WebGPU adapter options, validated (see webgpu.ts). Default: `validateWebGpuOptions()`. */
  webgpu?: Required<WebGpuOptions>;
  /** Checks for libvulkan.so.1 when WebGPU finds no adapter; tests inject one. */
  probeLibrary?: LibraryProbe;
}

/**
 * Tries the candidates for `choice` in order and activates the first that works; reports every
 * candidate tried. Does not register fixes or touch the cached engine (that is `initEngine`'s job), so
 * tests can drive it with a fake `loader`.
 */
export async function selectBackend(choice: BackendChoice, deps: SelectDeps): Promise<Selection> {
  const order = choice === 'auto' ? AUTO_ORDER : [choice];
  const candidates: CandidateReport[] = [];
  const notes: string[] = [];
  for (const backend of order) {
    const attempt = await tryBackend(backend, deps, notes);
    if (attempt.ok) {
      candidates.push({
        backend,
        modules: MODULES[backend],
        status: 'selected',
        ...(attempt.remark ? { reason: attempt.remark } : {}),
      });
      return {
        ok: true,
        backend,
        module: attempt.module,
        native: attempt.native,
        webgpu: attempt.webgpu,
        candidates,
        notes,
      };
    }
    candidates.push({ backend, modules: MODULES[backend], status: 'skipped', reason: attempt.reason });
  }
  return { ok: false, candidates, notes };
}

type Attempt =
  | { ok: true; module: unknown; native?: NativeInfo; webgpu?: WebGpuInfo; remark?: string }
  | { ok: false; reason: string };

async function tryBackend(backend: BackendName, deps: SelectDeps, notes: string[]): Promise<Attempt> {
  const tfName = TF_NAME[backend];
  let module: unknown = null;
  let webgpu: WebGpuInfo | undefined;
  let webgpuNotes: string[] = [];
  if (backend === 'webgpu') {
    const prepared = await prepareWebGpu({
      loader: deps.loader,
      options: deps.webgpu ?? validateWebGpuOptions(),
      probeLibrary: deps.probeLibrary,
    });
    if (!prepared.ok) return { ok: false, reason: prepared.reason };
    module = prepared.module;
    webgpu = prepared.info;
    webgpuNotes = prepared.notes;
  } else if (MODULES[backend].length > 0) {
    const spec = MODULES[backend][0];
    try {
      module = await deps.loader(spec);
    } catch (err) {
      return { ok: false, reason: describeLoadError(spec, err) };
    }
  }
  if (tf.findBackendFactory(tfName) == null) {
    return {
      ok: false,
      reason:
        `${MODULES[backend][0] ?? '@tensorflow/tfjs'} loaded but registered no '${tfName}' backend with this ` +
        `copy of @tensorflow/tfjs-core ${tf.version_core} (is it built against another tfjs version?)`,
    };
  }
  if (backend === 'wasm' && deps.threads !== undefined) {
    const setThreads = (module as { setThreadsCount?: (n: number) => void } | null)?.setThreadsCount;
    if (typeof process !== 'undefined' && process.versions?.node != null) {
      notes.push(`threads=${deps.threads} ignored: tfjs-backend-wasm 4.22 runs single-threaded under Node`);
    } else if (typeof setThreads === 'function') {
      setThreads(deps.threads);
    }
  }
  // A failed tfjs-node-gpu must not leave its 'tensorflow' registration in the way of tfjs-node's, nor a
  // failed webgpu a registration that tfjs' own priority order would pick.
  const fail = (reason: string): Attempt => {
    if (backend === 'tensorflow-gpu' || backend === 'webgpu') tf.removeBackend(tfName);
    return { ok: false, reason };
  };
  let initialised = false;
  try {
    initialised = await tf.setBackend(tfName);
  } catch (err) {
    return fail(`backend '${tfName}' failed to initialise: ${firstLine(err)}`);
  }
  if (!initialised) return fail(`backend '${tfName}' failed to initialise (tf.setBackend returned false)`);
  if (backend === 'cpu') {
    // Silence tfjs-backend-cpu's one-time "install tfjs-node" banner: the choice is reported in EngineInfo.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  }
  try {
    // An asynchronous read: webgpu under Node has no synchronous one (see webgpu.ts).
    const out = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])));
    const sum = await out.data().finally(() => out.dispose());
    if (sum[0] !== 4 || sum[1] !== 6) throw new Error(`1+3, 2+4 gave ${sum[0]}, ${sum[1]}`);
  } catch (err) {
    return fail(`backend '${tfName}' failed a smoke test: ${firstLine(err)}`);
  }
  if (backend === 'tensorflow-gpu' || backend === 'tensorflow') {
    const native = nativeInfo(MODULES[backend][0]);
    const remark =
      backend === 'tensorflow-gpu' && native.usingGpu === false
        ? 'loaded, but TensorFlow placed no ops on a GPU (CUDA/cuDNN missing?): running native CPU kernels'
        : undefined;
    return { ok: true, module, native, remark };
  }
  for (const note of webgpuNotes) if (!notes.includes(note)) notes.push(note);
  return { ok: true, module, webgpu };
}

/** GPU visibility from tfjs-node's backend, whose fields are not typed here. */
function nativeInfo(module: string): NativeInfo {
  const b = tf.backend() as unknown as {
    isUsingGpuDevice?: boolean | (() => boolean);
    binding?: { TF_Version?: string; isUsingGpuDevice?: () => boolean };
  };
  let usingGpu: boolean | null = null;
  if (typeof b.isUsingGpuDevice === 'boolean') usingGpu = b.isUsingGpuDevice;
  else if (typeof b.isUsingGpuDevice === 'function') usingGpu = Boolean(b.isUsingGpuDevice());
  else if (typeof b.binding?.isUsingGpuDevice === 'function') usingGpu = Boolean(b.binding.isUsingGpuDevice());
  return { module, tensorflowVersion: b.binding?.TF_Version ?? null, usingGpu };
}

/** Backends usable besides `except`, judged by whether their packages import (cpu always is). */
export async function listAvailable(loader: ModuleLoader, except: BackendChoice): Promise<string[]> {
  const out: string[] = [];
  for (const backend of [...AUTO_ORDER, 'webgpu'] as BackendName[]) {
    if (backend === except) continue;
    let ok = true;
    for (const spec of MODULES[backend]) {
      try {
        await loader(spec);
      } catch {
        ok = false;
        break;
      }
    }
    if (ok) out.push(backend);
  }
  return out;
}
