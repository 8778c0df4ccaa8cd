/**
 * WebGPU detection and setup with an injected module loader: fakes of `webgpu` (Dawn) and
 * `@tensorflow/tfjs-backend-webgpu` whose adapter, device and backend are scripted, so that each way of
 * failing (package missing, no Vulkan loader, no adapter, no device) and the success path give known
 * results. The fake backend is the cpu backend under the name 'webgpu', with cpu kernels copied over.
 * The real kernels are checked in engine-webgpu-ops.test.ts (on an adapter, when there is one).
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

import { initEngine } from '../src/engine/backend';
import type { ModuleLoader } from '../src/engine/module-loader';
import { selectBackend } from '../src/engine/select-backend';
import { DEFAULT_WEBGPU_OPTIONS, SYNC_READ_NOTE, validateWebGpuOptions, type LibraryProbe } from '../src/engine/webgpu';
import { applyWebGpuFixes, fixProgram, type WebGpuProgramLike } from '../src/engine/webgpu-fixes';

const BACKEND_PKG = '@tensorflow/tfjs-backend-webgpu';

function notFound(spec: string): Error {
  return Object.assign(new Error(`Cannot find package '${spec}' imported from /x/webgpu.ts`), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
}

/** What the fakes saw. */
interface Seen {
  createFlags: string[][];
  adapterOptions: unknown[];
  deviceDescriptors: Array<{ requiredFeatures: string[]; requiredLimits: Record<string, number> }>;
  backendArgs: unknown[][];
  probed: string[];
  /** Programs run by the fake backend: their cache key and shader code at run time. */
  programs: Array<{ shaderKey: string; userCode: string }>;
}

interface Script {
  /** The adapter requestAdapter returns: null for none. */
  adapter?: 'ok' | null;
  createThrows?: string;
  deviceRejects?: string;
  /** Which modules load. */
  modules?: { backend: boolean; dawn: boolean };
  probe?: boolean | null;
}

const LIMITS = {
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBufferBindingSize: 2 ** 30,
  maxBufferSize: 2 ** 31,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxBindGroups: 4, // not raised
};
const ADAPTER_INFO = {
  vendor: 'fakevendor',
  architecture: 'fakearch',
  device: 'Fake GPU 9000',
  description: 'scripted',
};

/** The fakes, and a loader that serves them. */
async function fakes(script: Script): Promise<{ loader: ModuleLoader; seen: Seen; probeLibrary: LibraryProbe }> {
  const seen: Seen = {
    createFlags: [],
    adapterOptions: [],
    deviceDescriptors: [],
    backendArgs: [],
    probed: [],
    programs: [],
  };
  await tf.ready();
  const cpu = tf.findBackend('cpu') ?? (await tf.setBackend('cpu'), tf.findBackend('cpu'));
  const Cpu = Object.getPrototypeOf(cpu).constructor as new () => tf.KernelBackend;
  // Like WebGPUBackend under Node: asynchronous reads work, synchronous ones need OffscreenCanvas.
  class FakeWebGPUBackend extends Cpu {
    constructor(...args: unknown[]) {
      super();
      seen.backendArgs.push(args);
    }
    override readSync(dataId: object): tf.BackendValues {
      if ((this as unknown as { allowSync?: boolean }).allowSync) return super.readSync(dataId);
      throw new ReferenceError('OffscreenCanvas is not defined');
    }
    override async read(dataId: object): Promise<tf.BackendValues> {
      return super.readSync(dataId);
    }
    runWebGPUProgram(program: WebGpuProgramLike): void {
      seen.programs.push({ shaderKey: program.shaderKey, userCode: program.getUserCode() });
    }
  }
  const backendModule = {
    WebGPUBackend: function (this: unknown, ...args: unknown[]) {
      // Kernels are registered when the real package is imported; the fake copies cpu's.
      for (const k of tf.getKernelsForBackend('cpu')) {
        if (tf.getKernel(k.kernelName, 'webgpu') == null) tf.registerKernel({ ...k, backendName: 'webgpu' });
      }
      return Object.assign(new FakeWebGPUBackend(...args), { firstUse: false });
    },
  };
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (tf.getKernel(k.kernelName, 'webgpu') == null) tf.registerKernel({ ...k, backendName: 'webgpu' });
  }
  const device = { destroy: () => undefined };
  const adapter = {
    features: new Set(['timestamp-query', 'shader-f16']),
    limits: LIMITS,
    info: ADAPTER_INFO,
    requestDevice: async (descriptor: Seen['deviceDescriptors'][number]) => {
      seen.deviceDescriptors.push(descriptor);
      if (script.deviceRejects) throw new Error(script.deviceRejects);
      return device;
    },
  };
  const gpu = {
    requestAdapter: async (options: unknown) => {
      seen.adapterOptions.push(options);
      return script.adapter === null ? null : adapter;
    },
  };
  const dawn = {
    create: (flags: string[]) => {
      seen.createFlags.push(flags);
      if (script.createThrows) throw new Error(script.createThrows);
      return gpu;
    },
    globals: { GPUBufferUsage: { MAP_READ: 1, STORAGE: 128 }, GPUMapMode: { READ: 1 } },
  };
  const modules = script.modules ?? { backend: true, dawn: true };
  const loader: ModuleLoader = async (spec) => {
    if (spec === BACKEND_PKG && modules.backend) return backendModule;
    if (spec === 'webgpu' && modules.dawn) return dawn;
    throw notFound(spec);
  };
  const probeLibrary: LibraryProbe = (name) => {
    seen.probed.push(name);
    return script.probe === undefined ? true : script.probe;
  };
  return { loader, seen, probeLibrary };
}

const OPTIONS = validateWebGpuOptions();
const SOFTWARE = validateWebGpuOptions({ dawnFlags: ['backend=opengles'], featureLevel: 'compatibility' });

/** Stand-ins for tfjs-backend-webgpu's CumProgram (reverse) and TransposeProgram, with their keys and code. */
function cumProgram(shape: number[]): WebGpuProgramLike {
  return { shaderKey: 'cum_+_false_true', outputShape: shape, getUserCode: () => `end + pow2 < ${shape.at(-1)}` };
}
function transposeProgram(shape: number[]): WebGpuProgramLike {
  // As TransposeProgram.getUserCode writes it (rank 3, perm [0, 2, 1]).
  const code = `
            setOutputAtIndex(flatIndex, A[getIndexFromCoords3D(
              vec3<i32>(coords.x,coords.z,coords.y), uniforms.aShape)]);`;
  return { shaderKey: 'transpose_0,2,1', outputShape: shape, getUserCode: () => code };
}

afterEach(async () => {
  applyWebGpuFixes([]);
  if (tf.getBackend() === 'webgpu') await tf.setBackend('cpu');
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  for (const k of tf.getKernelsForBackend('webgpu')) tf.unregisterKernel(k.kernelName, 'webgpu');
  delete (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
});

describe('validateWebGpuOptions', () => {
  it('fills defaults, reads the environment for what the options leave out, and lets options win', () => {
    expect(validateWebGpuOptions()).toEqual(DEFAULT_WEBGPU_OPTIONS);
    expect(DEFAULT_WEBGPU_OPTIONS).toEqual({
      dawnFlags: [],
      featureLevel: 'core',
      powerPreference: 'high-performance',
    });
    const env = {
      DALM_WEBGPU_FLAGS: ' backend=opengles ; adapter=llvmpipe (LLVM 15.0.6, 256 bits);',
      DALM_WEBGPU_FEATURE_LEVEL: 'compatibility',
    };
    expect(validateWebGpuOptions({}, env)).toEqual({
      dawnFlags: ['backend=opengles', 'adapter=llvmpipe (LLVM 15.0.6, 256 bits)'],
      featureLevel: 'compatibility',
      powerPreference: 'high-performance',
    });
    expect(validateWebGpuOptions({ dawnFlags: [], featureLevel: 'core', powerPreference: 'low-power' }, env)).toEqual({
      dawnFlags: [],
      featureLevel: 'core',
      powerPreference: 'low-power',
    });
  });

  it('names the bad field and the valid values', () => {
    expect(() => validateWebGpuOptions({}, { DALM_WEBGPU_FEATURE_LEVEL: 'full' })).toThrow(
      "environment variable DALM_WEBGPU_FEATURE_LEVEL='full' is not a feature level; valid values: core, compatibility",
    );
    // @ts-expect-error: not a feature level
    expect(() => validateWebGpuOptions({ featureLevel: 'es' })).toThrow(
      "webgpu option featureLevel='es' is not a feature level",
    );
    expect(() => validateWebGpuOptions({ dawnFlags: ['vulkan'] })).toThrow(
      `webgpu option dawnFlags=["vulkan"] must be a list of 'name=value' strings`,
    );
    // @ts-expect-error: not a power preference
    expect(() => validateWebGpuOptions({ powerPreference: 'max' })).toThrow(
      "webgpu option powerPreference='max' is not valid; valid values: high-performance, low-power",
    );
  });
});

describe('webgpu program fixes', () => {
  it('cum-length-key: puts the scanned length in the shader cache key', () => {
    applyWebGpuFixes(['cum-length-key']);
    const [a, b] = [cumProgram([2, 3]), cumProgram([2, 4])];
    fixProgram(a, 'float32');
    fixProgram(b, 'float32');
    expect([a.shaderKey, b.shaderKey]).toEqual(['cum_+_false_true_length3', 'cum_+_false_true_length4']);
    const t = transposeProgram([4, 3, 2]);
    fixProgram(t, 'int32');
    expect(t.getUserCode()).toBe(transposeProgram([4, 3, 2]).getUserCode()); // transpose-types is off
  });

  it('transpose-types: converts the element to the output type and uses the matching setter; other programs are left alone', () => {
    applyWebGpuFixes(['transpose-types']);
    const element = `A[getIndexFromCoords3D(
              vec3<i32>(coords.x,coords.z,coords.y), uniforms.aShape)]`;
    const expected: Record<string, string> = {
      int32: `setOutputAtIndexI32(flatIndex, i32(${element}));`,
      bool: `setOutputAtIndexI32(flatIndex, i32(${element}));`,
      float32: `setOutputAtIndex(flatIndex, f32(${element}));`,
    };
    for (const dtype of ['int32', 'bool', 'float32'] as const) {
      const t = transposeProgram([4, 3, 2]);
      fixProgram(t, dtype);
      expect(t.getUserCode().trim()).toBe(expected[dtype]);
      expect(t.shaderKey).toBe('transpose_0,2,1'); // tfjs adds the input and output dtypes to the key
    }
    const c = cumProgram([2, 3]);
    fixProgram(c, 'int32');
    expect(c.shaderKey).toBe('cum_+_false_true'); // cum-length-key is off
    // @ts-expect-error: not a fix
    expect(() => applyWebGpuFixes(['faster'])).toThrow(
      "applyWebGpuFixes: unknown fix 'faster'; valid fixes: cum-length-key, transpose-types, splitk-transpose-b",
    );
  });

  it('splitk-transpose-b: turns vec4 off in a split-K matmul with a transposed B, as its constructor does when K % 4 != 0', () => {
    applyWebGpuFixes(['splitk-transpose-b']);
    // dy [3, 4000] · (Eᵀ [128, 4000])ᵀ: what MatMulSplitKProgram's constructor sets (vec4, since 4000 and 128 are multiples of 4).
    const splitK = (transposeB: boolean) => ({
      shaderKey: `matMulSplitK_false_${transposeB}_4,4,128_4`,
      outputShape: [1, 3, 128],
      getUserCode: () => '',
      transposeA: false,
      transposeB,
      outputComponent: 4,
      elementsPerThread: [4, 4, 128] as [number, number, number],
      workgroupSize: [8, 8, 1] as [number, number, number],
      dispatch: [4, 1, 32] as [number, number, number], // ceil(128 / 32), ceil(3 / 32), ceil(4000 / 128)
    });
    const p = splitK(true);
    fixProgram(p, 'float32');
    expect(p.outputComponent).toBe(1);
    expect(p.elementsPerThread).toEqual([4, 1, 128]); // fewer than 16 rows: one row per thread
    expect(p.dispatch).toEqual([4, 1, 32]); // ceil(128 / 32), ceil(3 / 8), unchanged
    expect(p.shaderKey).toBe('matMulSplitK_false_true_4,1,128_1');
    const q = splitK(false);
    fixProgram(q, 'float32');
    expect([q.outputComponent, q.shaderKey]).toEqual([4, 'matMulSplitK_false_false_4,4,128_4']); // B not transposed: vec4 reads are right
    applyWebGpuFixes([]);
    const r = splitK(true);
    fixProgram(r, 'float32');
    expect(r.outputComponent).toBe(4); // fix off: the stock program
  });
});

describe("selectBackend('webgpu'): why it cannot be used", () => {
  const reasonOf = async (script: Script, options = OPTIONS) => {
    const { loader, seen, probeLibrary } = await fakes(script);
    const sel = await selectBackend('webgpu', { loader, webgpu: options, probeLibrary });
    expect(sel.ok).toBe(false);
    expect(sel.candidates).toHaveLength(1);
    expect(sel.candidates[0]).toMatchObject({ backend: 'webgpu', status: 'skipped' });
    expect(tf.findBackendFactory('webgpu')).toBeNull(); // nothing left registered
    return { reason: sel.candidates[0].reason, seen };
  };

  it('a missing package', async () => {
    expect((await reasonOf({ modules: { backend: false, dawn: true } })).reason).toBe(
      `${BACKEND_PKG} is not installed`,
    );
    expect((await reasonOf({ modules: { backend: true, dawn: false } })).reason).toBe('webgpu is not installed');
  });

  it('no adapter and no Vulkan loader', async () => {
    const { reason, seen } = await reasonOf({ adapter: null, probe: false });
    expect(seen.probed).toEqual(['libvulkan.so.1']);
    expect(reason).toBe(
      'no WebGPU adapter (featureLevel core): the Vulkan loader libvulkan.so.1 is not installed; Dawn uses Vulkan ' +
        "on Linux: install libvulkan1 and the GPU's Vulkan driver (NVIDIA's driver ships one; Mesa: mesa-vulkan-drivers)",
    );
  });

  it('no adapter although Vulkan is there (or was not asked for)', async () => {
    const vulkan = await reasonOf({ adapter: null, probe: true });
    expect(vulkan.reason).toMatch(
      /^no WebGPU adapter \(featureLevel core\): Dawn found no usable GPU \(its warnings on stderr/,
    );
    expect(vulkan.reason).toContain(
      'DALM_WEBGPU_FLAGS=backend=opengles DALM_WEBGPU_FEATURE_LEVEL=compatibility EGL_PLATFORM=surfaceless',
    );
    // With Dawn's OpenGL ES backend the Vulkan loader is beside the point: not probed, not blamed.
    const gles = await reasonOf({ adapter: null, probe: false }, SOFTWARE);
    expect(gles.seen.probed).toEqual([]);
    expect(gles.seen.adapterOptions).toEqual([{ powerPreference: 'high-performance', featureLevel: 'compatibility' }]);
    expect(gles.reason).toMatch(
      /^no WebGPU adapter \(featureLevel compatibility, Dawn flags backend=opengles\): Dawn found no usable GPU/,
    );
  });

  it('Dawn refusing its flags, and an adapter refusing a device', async () => {
    const bad = await reasonOf(
      { createThrows: 'Error: unknown backend foo\nAvailable: vulkan, opengles' },
      validateWebGpuOptions({ dawnFlags: ['backend=foo'] }),
    );
    expect(bad.reason).toBe('webgpu create(["backend=foo"]) failed: Error: unknown backend foo');
    const device = await reasonOf({ deviceRejects: 'Limit maxBufferSize exceeds the adapter limit' });
    expect(device.reason).toBe('the WebGPU adapter refused a device: Limit maxBufferSize exceeds the adapter limit');
  });
});

describe("selectBackend('webgpu') / initEngine: a working adapter", () => {
  it('installs navigator.gpu and the GPU* globals, asks for the limits tfjs needs, and registers the backend on that device', async () => {
    const { loader, seen, probeLibrary } = await fakes({});
    const sel = await selectBackend('webgpu', { loader, webgpu: OPTIONS, probeLibrary });
    expect(sel.ok && sel.backend).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    const g = globalThis as unknown as { navigator: { gpu: unknown }; GPUBufferUsage: unknown; GPUMapMode: unknown };
    expect(seen.createFlags).toEqual([[]]);
    expect(typeof (g.navigator.gpu as { requestAdapter?: unknown }).requestAdapter).toBe('function');
    expect(g.GPUBufferUsage).toEqual({ MAP_READ: 1, STORAGE: 128 });
    expect(seen.adapterOptions).toEqual([{ powerPreference: 'high-performance', featureLevel: 'core' }]);
    const { maxBindGroups: _notRaised, ...raised } = LIMITS;
    expect(seen.deviceDescriptors).toEqual([{ requiredFeatures: ['timestamp-query'], requiredLimits: raised }]);
    expect(seen.backendArgs).toEqual([[{ destroy: expect.any(Function) }, ADAPTER_INFO]]);
    expect(sel.ok && sel.webgpu).toEqual({
      adapter: ADAPTER_INFO,
      featureLevel: 'core',
      dawnFlags: [],
      maxBufferSize: 2 ** 31,
      maxStorageBufferBindingSize: 2 ** 30,
      timestampQuery: true,
    });
    expect(sel.notes).toEqual([SYNC_READ_NOTE]);

    // Asking again with the same options reuses the device; other options make a new one.
    await selectBackend('webgpu', { loader, webgpu: OPTIONS, probeLibrary });
    expect(seen.backendArgs).toHaveLength(1);
    await selectBackend('webgpu', {
      loader,
      webgpu: validateWebGpuOptions({ powerPreference: 'low-power' }),
      probeLibrary,
    });
    expect(seen.backendArgs).toHaveLength(2);
    expect(seen.createFlags).toEqual([[]]); // same Dawn flags: the same Dawn instance
  });

  it('a synchronous read says why it fails and what to use instead', async () => {
    const { loader, probeLibrary } = await fakes({});
    await selectBackend('webgpu', { loader, webgpu: OPTIONS, probeLibrary });
    const t = tf.add(tf.tensor1d([1, 2]), 1);
    expect(Array.from(await t.data())).toEqual([2, 3]);
    expect(() => t.dataSync()).toThrow(
      'webgpu under Node cannot read tensors synchronously (no OffscreenCanvas): dataSync()/arraySync() throw; ' +
        'use await data()/array() (OffscreenCanvas is not defined)',
    );
    t.dispose();
  });

  it('initEngine reports the adapter and turns on the webgpu program fixes', async () => {
    const { loader, seen } = await fakes({});
    const info = await initEngine({ backend: 'webgpu', loader, env: {} });
    expect(info).toMatchObject({ backend: 'webgpu', tfBackend: 'webgpu', requested: 'webgpu', requestedBy: 'option' });
    expect(info.webgpu?.adapter.device).toBe('Fake GPU 9000');
    expect(info.fixes).toEqual(
      expect.arrayContaining(['webgpu:cum-length-key', 'webgpu:transpose-types', 'webgpu:splitk-transpose-b']),
    );
    expect(info.notes).toContain(SYNC_READ_NOTE);
    // Programs reach the (fake) backend's runWebGPUProgram with the fixes applied.
    const run = (
      tf.backend() as unknown as { runWebGPUProgram: (p: WebGpuProgramLike, i: unknown[], d: string) => void }
    ).runWebGPUProgram;
    run(cumProgram([2, 3]), [], 'float32');
    run(transposeProgram([4, 3, 2]), [], 'int32');
    expect(seen.programs).toEqual([
      { shaderKey: 'cum_+_false_true_length3', userCode: 'end + pow2 < 3' },
      {
        shaderKey: 'transpose_0,2,1',
        userCode: expect.stringContaining('setOutputAtIndexI32(flatIndex, i32(A[getIndexFromCoords3D('),
      },
    ]);

    const { loader: noAdapter } = await fakes({ adapter: null, probe: true });
    await initEngine({ backend: 'cpu' });
    tf.removeBackend('webgpu'); // else the registered device is reused
    await expect(initEngine({ backend: 'webgpu', loader: noAdapter, env: {} })).rejects.toThrow(
      "Backend 'webgpu' was requested (initEngine option backend) but cannot be used: webgpu: no WebGPU adapter (featureLevel core)",
    );
  });
});
