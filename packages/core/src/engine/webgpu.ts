/**
 * WebGPU under Node: the `webgpu` npm package (Dawn, Chrome's WebGPU implementation, as a Node add-on)
 * provides the GPU, `@tensorflow/tfjs-backend-webgpu` the kernels.
 *
 * `prepareWebGpu` loads both packages, installs Dawn's `GPU*` globals and `navigator.gpu`, requests an
 * adapter and a device itself (so that a missing GPU is reported with its cause: package not installed,
 * no Vulkan loader `libvulkan.so.1`, or no adapter), and registers the tfjs backend 'webgpu' on that
 * device. tfjs-backend-webgpu's own registration runs only if `navigator.gpu` exists when it is first
 * imported, and asks for an adapter it cannot describe when there is none; the engine's replaces it.
 *
 * Two things differ from WebGPU in a browser:
 * - Synchronous reads (`dataSync`, `arraySync`, `bufferSync`) need `OffscreenCanvas`, which Node lacks;
 *   they throw an error saying so (use `await t.data()` / `await t.array()`).
 * - Dawn chooses among Vulkan (Linux, Windows), Metal (macOS), D3D12 and OpenGL ES adapters. Without a
 *   GPU, Mesa's llvmpipe can serve as an OpenGL ES adapter in compatibility mode:
 *   `DALM_WEBGPU_FLAGS=backend=opengles DALM_WEBGPU_FEATURE_LEVEL=compatibility EGL_PLATFORM=surfaceless`
 *   (Debian/Ubuntu: `libegl1 libgles2 libegl-mesa0`). This is how the kernels were checked without a GPU.
 */
import * as tf from '@tensorflow/tfjs';

import { describeLoadError, firstLine, type ModuleLoader } from './module-loader';
import { installProgramFixes } from './webgpu-fixes';

/** WebGPU adapter feature level: 'core' (full WebGPU) or 'compatibility' (e.g. OpenGL ES adapters). */
export type WebGpuFeatureLevel = 'core' | 'compatibility';

/** WebGPU adapter power preference. */
export type WebGpuPowerPreference = 'high-performance' | 'low-power';

/** Options of the WebGPU backend (`EngineOptions.webgpu`). */
export interface WebGpuOptions {
  /** Dawn options passed to `create()` of the `webgpu` package (`backend=vulkan`, `adapter=<name>`, `enable-dawn-features=a,b`). */
  dawnFlags?: string[];
  /** Adapter feature level to request. */
  featureLevel?: WebGpuFeatureLevel;
  /** Which adapter to prefer when there are several. */
  powerPreference?: WebGpuPowerPreference;
}

/** Defaults of `WebGpuOptions`; `$DALM_WEBGPU_FLAGS` (';'-separated) and `$DALM_WEBGPU_FEATURE_LEVEL` override them. */
export const DEFAULT_WEBGPU_OPTIONS: Readonly<Required<WebGpuOptions>> = {
  dawnFlags: [],
  featureLevel: 'core',
  powerPreference: 'high-performance',
};

const FEATURE_LEVELS: readonly WebGpuFeatureLevel[] = ['core', 'compatibility'];
const POWER_PREFERENCES: readonly WebGpuPowerPreference[] = ['high-performance', 'low-power'];

/**
 * Fills the defaults of `options`, then the environment (`DALM_WEBGPU_FLAGS`, `DALM_WEBGPU_FEATURE_LEVEL`)
 * for what `options` leaves out. Throws an error naming the bad field and the valid values.
 *
 * @example
 *   validateWebGpuOptions({}, { DALM_WEBGPU_FLAGS: 'backend=opengles', DALM_WEBGPU_FEATURE_LEVEL: 'compatibility' })
 *   // { dawnFlags: ['backend=opengles'], featureLevel: 'compatibility', powerPreference: 'high-performance' }
 */
export function validateWebGpuOptions(
  options: WebGpuOptions = {},
  env: Record<string, string | undefined> = {},
): Required<WebGpuOptions> {
  const envFlags = env.DALM_WEBGPU_FLAGS?.trim();
  const dawnFlags =
    options.dawnFlags ??
    (envFlags
      ? envFlags
          .split(';')
          .map((f) => f.trim())
          .filter((f) => f.length > 0)
      : DEFAULT_WEBGPU_OPTIONS.dawnFlags);
  if (!Array.isArray(dawnFlags) || dawnFlags.some((f) => typeof f !== 'string' || !/^[\w-]+=/.test(f))) {
    throw new Error(
      `webgpu option dawnFlags=${JSON.stringify(dawnFlags)} must be a list of 'name=value' strings ` +
        `(e.g. 'backend=vulkan', 'adapter=<name>', 'enable-dawn-features=a,b')`,
    );
  }
  const levelFrom =
    options.featureLevel !== undefined
      ? 'webgpu option featureLevel'
      : 'environment variable DALM_WEBGPU_FEATURE_LEVEL';
  const featureLevel =
    options.featureLevel ?? (env.DALM_WEBGPU_FEATURE_LEVEL?.trim() || DEFAULT_WEBGPU_OPTIONS.featureLevel);
  if (!(FEATURE_LEVELS as readonly string[]).includes(featureLevel)) {
    throw new Error(
      `${levelFrom}='${featureLevel}' is not a feature level; valid values: ${FEATURE_LEVELS.join(', ')}`,
    );
  }
  const powerPreference = options.powerPreference ?? DEFAULT_WEBGPU_OPTIONS.powerPreference;
  if (!(POWER_PREFERENCES as readonly string[]).includes(powerPreference)) {
    throw new Error(
      `webgpu option powerPreference='${powerPreference}' is not valid; valid values: ${POWER_PREFERENCES.join(', ')}`,
    );
  }
  return { dawnFlags: [...dawnFlags], featureLevel: featureLevel as WebGpuFeatureLevel, powerPreference };
}

/** The adapter and device the 'webgpu' backend runs on. */
export interface WebGpuInfo {
  /** `GPUAdapterInfo` fields ('' where Dawn reports nothing). */
  adapter: { vendor: string; architecture: string; device: string; description: string };
  featureLevel: WebGpuFeatureLevel;
  dawnFlags: string[];
  /** Largest buffer (bytes) and storage binding the device allows: the largest tensor it can hold. */
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** Whether kernel timing (`tf.profile`) is available. */
  timestampQuery: boolean;
}

/** Whether a shared library can be loaded: true/false, or null where the question does not apply. */
export type LibraryProbe = (name: string) => boolean | null;

/**
 * Linux only: `process.dlopen` of a plain library loads it and then fails with "did not self-register"
 * (it is no Node add-on); a missing one fails with "cannot open shared object file".
 */
export const defaultLibraryProbe: LibraryProbe = (name) => {
  if (typeof process === 'undefined' || process.platform !== 'linux') return null;
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, name);
    return true;
  } catch (err) {
    return !firstLine(err).startsWith(`${name}: cannot open shared object file`);
  }
};

/** What `prepareWebGpu` needs. */
export interface WebGpuDeps {
  loader: ModuleLoader;
  options: Required<WebGpuOptions>;
  /** Default: `defaultLibraryProbe`. */
  probeLibrary?: LibraryProbe;
}

/** Outcome of `prepareWebGpu`: the backend module and the device's description, or why not. */
export type WebGpuPrepared =
  | { ok: true; module: unknown; info: WebGpuInfo; notes: string[] }
  | { ok: false; reason: string };

// The parts of the WebGPU API used here (lib.dom in TypeScript 5.9 has no WebGPU types).
interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}
interface GpuDeviceLike {
  destroy(): void;
}
interface GpuAdapterLike {
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  info?: GpuAdapterInfoLike;
  requestDevice(descriptor: {
    requiredFeatures: string[];
    requiredLimits: Record<string, number>;
  }): Promise<GpuDeviceLike>;
}
interface GpuLike {
  requestAdapter(options: { powerPreference: string; featureLevel: string }): Promise<GpuAdapterLike | null>;
}
interface DawnModule {
  create?: (flags: string[]) => GpuLike;
  globals?: Record<string, unknown>;
}
type WebGpuBackendClass = new (device: GpuDeviceLike, adapterInfo?: GpuAdapterInfoLike) => tf.KernelBackend;

/** Limits tfjs-backend-webgpu raises to the adapter's maximum (as its own registration does). */
const RAISED_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

/** The note `initEngine` records when webgpu runs under Node. */
export const SYNC_READ_NOTE =
  'webgpu under Node cannot read tensors synchronously (no OffscreenCanvas): dataSync()/arraySync() throw; use await data()/array()';

/** The Dawn instance this module created, and the registration it backs (reused while the options are the same). */
let created: { dawn: DawnModule; flags: string; gpu: GpuLike } | null = null;
let registered: { key: string; module: unknown; info: WebGpuInfo } | null = null;

/** What `initEngine` should say about webgpu here: under Node, that synchronous reads fail. */
function webgpuNotes(): string[] {
  return typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas === 'undefined' ? [SYNC_READ_NOTE] : [];
}

/**
 * Whether the active tfjs backend can read tensors synchronously (`dataSync`): false only for webgpu
 * without `OffscreenCanvas` (under Node). Code that must stay synchronous checks this and otherwise
 * defers the read to an `await t.data()`.
 *
 * @example
 *   const loss = canReadSync() ? value.dataSync()[0] : (await value.data())[0];
 */
export function canReadSync(): boolean {
  return (
    tf.getBackend() !== 'webgpu' || typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined'
  );
}

/**
 * Loads the WebGPU packages, finds an adapter and a device, and registers the tfjs backend 'webgpu' on it
 * (activating it is the caller's job). Says why when it cannot.
 *
 * @example
 *   const prepared = await prepareWebGpu({ loader: defaultLoader, options: validateWebGpuOptions() });
 *   if (prepared.ok) await tf.setBackend('webgpu'); else console.log(prepared.reason);
 */
export async function prepareWebGpu(deps: WebGpuDeps): Promise<WebGpuPrepared> {
  const { options } = deps;
  const key = JSON.stringify(options);
  if (registered?.key === key && tf.findBackendFactory('webgpu') != null) {
    return { ok: true, module: registered.module, info: registered.info, notes: webgpuNotes() };
  }

  // 1. The kernels. Imported before navigator.gpu exists, so its own backend registration stays off.
  let module: { WebGPUBackend?: WebGpuBackendClass };
  try {
    module = (await deps.loader('@tensorflow/tfjs-backend-webgpu')) as typeof module;
  } catch (err) {
    return { ok: false, reason: describeLoadError('@tensorflow/tfjs-backend-webgpu', err) };
  }
  const WebGPUBackend = module.WebGPUBackend;
  if (typeof WebGPUBackend !== 'function') {
    return { ok: false, reason: '@tensorflow/tfjs-backend-webgpu has no WebGPUBackend export (not version 4.x?)' };
  }

  // 2. The GPU: the browser's navigator.gpu, else Dawn's.
  const gpu = await installGpu(deps);
  if (typeof gpu === 'string') return { ok: false, reason: gpu };

  // 3. Adapter and device.
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({
      powerPreference: options.powerPreference,
      featureLevel: options.featureLevel,
    });
  } catch (err) {
    return { ok: false, reason: `navigator.gpu.requestAdapter() failed: ${firstLine(err)}` };
  }
  if (adapter == null) return { ok: false, reason: noAdapterReason(options, deps.probeLibrary ?? defaultLibraryProbe) };
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = adapter.limits[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  const timestampQuery = adapter.features.has('timestamp-query');
  let device: GpuDeviceLike;
  try {
    device = await adapter.requestDevice({
      requiredFeatures: timestampQuery ? ['timestamp-query'] : [],
      requiredLimits,
    });
  } catch (err) {
    return { ok: false, reason: `the WebGPU adapter refused a device: ${firstLine(err)}` };
  }
  const adapterInfo = adapter.info ?? {};
  const info: WebGpuInfo = {
    adapter: {
      vendor: adapterInfo.vendor ?? '',
      architecture: adapterInfo.architecture ?? '',
      device: adapterInfo.device ?? '',
      description: adapterInfo.description ?? '',
    },
    featureLevel: options.featureLevel,
    dawnFlags: [...options.dawnFlags],
    maxBufferSize: requiredLimits.maxBufferSize ?? 0,
    maxStorageBufferBindingSize: requiredLimits.maxStorageBufferBindingSize ?? 0,
    timestampQuery,
  };

  // 4. The tfjs backend on that device (replacing any earlier registration).
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    () => {
      const backend = withSyncReadError(new WebGPUBackend(device, adapterInfo));
      installProgramFixes(backend); // active once initEngine applies them (webgpu-fixes.ts)
      return backend;
    },
    3,
  );
  registered = { key, module, info };
  return { ok: true, module, info, notes: webgpuNotes() };
}

/** `navigator.gpu` (a browser's, or Dawn's, installed here with Dawn's `GPU*` globals), or why there is none. */
async function installGpu(deps: WebGpuDeps): Promise<GpuLike | string> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  const existing = g.navigator?.gpu as GpuLike | undefined;
  if (existing != null && existing !== created?.gpu) return existing; // a browser's, or installed by the caller
  let dawn: DawnModule;
  try {
    dawn = (await deps.loader('webgpu')) as DawnModule;
  } catch (err) {
    return describeLoadError('webgpu', err);
  }
  if (typeof dawn.create !== 'function')
    return "the 'webgpu' package has no create() export (is it Dawn's node-webgpu?)";
  const globals = globalThis as Record<string, unknown>;
  for (const [name, value] of Object.entries(dawn.globals ?? {})) {
    if (globals[name] === undefined) globals[name] = value; // GPUBufferUsage, GPUMapMode, ... used by the kernels
  }
  const flags = deps.options.dawnFlags;
  if (created?.dawn !== dawn || created.flags !== flags.join('\n')) {
    try {
      created = { dawn, flags: flags.join('\n'), gpu: dawn.create(flags) };
    } catch (err) {
      return `webgpu create(${JSON.stringify(flags)}) failed: ${firstLine(err)}`;
    }
  }
  // Node 20 has no navigator; Node 21+ has one without `gpu`. tfjs-backend-webgpu checks navigator.gpu.
  if (g.navigator == null) g.navigator = {};
  Object.defineProperty(g.navigator, 'gpu', {
    value: created.gpu,
    configurable: true,
    enumerable: true,
    writable: true,
  });
  return created.gpu;
}

/** Why Dawn found no adapter, as far as can be told from here (Dawn prints its own warnings on stderr). */
function noAdapterReason(options: Required<WebGpuOptions>, probe: LibraryProbe): string {
  const asked = `featureLevel ${options.featureLevel}${options.dawnFlags.length ? `, Dawn flags ${options.dawnFlags.join(' ')}` : ''}`;
  const usesVulkan = !options.dawnFlags.some((f) => /^backend=(?!vulkan$)/.test(f));
  if (usesVulkan && probe('libvulkan.so.1') === false) {
    return (
      `no WebGPU adapter (${asked}): the Vulkan loader libvulkan.so.1 is not installed; Dawn uses Vulkan on ` +
      `Linux: install libvulkan1 and the GPU's Vulkan driver (NVIDIA's driver ships one; Mesa: mesa-vulkan-drivers)`
    );
  }
  return (
    `no WebGPU adapter (${asked}): Dawn found no usable GPU (its warnings on stderr say why each was rejected). ` +
    `Without a GPU: DALM_WEBGPU_FLAGS=backend=opengles DALM_WEBGPU_FEATURE_LEVEL=compatibility EGL_PLATFORM=surfaceless ` +
    `uses Mesa's llvmpipe (slow; for checks only)`
  );
}

/** Makes a failed synchronous read say why and what to do instead, rather than "OffscreenCanvas is not defined". */
function withSyncReadError(backend: tf.KernelBackend): tf.KernelBackend {
  if (typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return backend;
  const b = backend as tf.KernelBackend & { hasReadSyncWarned?: boolean };
  b.hasReadSyncWarned = true; // its "synchronous reads are slow" warning precedes the failure
  const readSync = b.readSync.bind(b);
  b.readSync = (dataId: object) => {
    try {
      return readSync(dataId);
    } catch (err) {
      if (err instanceof ReferenceError && /OffscreenCanvas/.test(err.message)) {
        throw new Error(`${SYNC_READ_NOTE} (${firstLine(err)})`);
      }
      throw err;
    }
  };
  return b;
}
