/**
 * Backend selection with an injected module loader: the fakes stand in for @tensorflow/tfjs-node(-gpu),
 * which cannot be installed here. A fake that "loads" registers a working 'tensorflow' backend (a cpu
 * backend instance under that name, with cpu kernels copied over), like the real package does.
 */
import { createRequire } from 'node:module';

import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

import { engineInfo, initEngine } from '../src/engine/backend';
import {
  AUTO_ORDER,
  defaultLoader,
  describeLoadError,
  selectBackend,
  type ModuleLoader,
} from '../src/engine/select-backend';

const GPU = '@tensorflow/tfjs-node-gpu';
const NODE = '@tensorflow/tfjs-node';
const WASM = '@tensorflow/tfjs-backend-wasm';

function notFound(spec: string): Error {
  return Object.assign(new Error(`Cannot find package '${spec}' imported from /x/backend.ts`), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
}

/** Registers a working fake 'tensorflow' backend, as importing tfjs-node would. */
async function registerFakeNative(usingGpu: boolean): Promise<void> {
  await tf.ready();
  const cpu = tf.findBackend('cpu') ?? (await tf.setBackend('cpu'), tf.findBackend('cpu'));
  const Cpu = Object.getPrototypeOf(cpu).constructor as new () => tf.KernelBackend;
  tf.registerBackend('tensorflow', () =>
    Object.assign(new Cpu(), { firstUse: false, isUsingGpuDevice: usingGpu, binding: { TF_Version: '2.9.1-fake' } }),
  );
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (tf.getKernel(k.kernelName, 'tensorflow') == null) tf.registerKernel({ ...k, backendName: 'tensorflow' });
  }
}

/** A loader that records the order of requests and answers from `table` (a thrown error or a module). */
function fakeLoader(table: Record<string, () => Promise<unknown>>): { loader: ModuleLoader; calls: string[] } {
  const calls: string[] = [];
  const loader: ModuleLoader = async (spec) => {
    calls.push(spec);
    const entry = table[spec];
    if (entry == null) throw notFound(spec);
    return entry();
  };
  return { loader, calls };
}

const realWasm = () => import(WASM);

afterEach(async () => {
  if (tf.findBackendFactory('tensorflow') != null) {
    if (tf.getBackend() === 'tensorflow') await tf.setBackend('cpu');
    tf.removeBackend('tensorflow');
  }
  for (const k of tf.getKernelsForBackend('tensorflow')) tf.unregisterKernel(k.kernelName, 'tensorflow');
});

describe('selectBackend (auto order)', () => {
  it('takes tfjs-node-gpu first when it loads and sees a GPU', async () => {
    const { loader, calls } = fakeLoader({ [GPU]: async () => (await registerFakeNative(true), {}) });
    const sel = await selectBackend('auto', { loader });
    expect(sel.ok).toBe(true);
    if (!sel.ok) return;
    expect(sel.backend).toBe('tensorflow-gpu');
    expect(tf.getBackend()).toBe('tensorflow');
    expect(calls).toEqual([GPU]);
    expect(sel.native).toEqual({ module: GPU, tensorflowVersion: '2.9.1-fake', usingGpu: true });
    expect(sel.candidates).toEqual([{ backend: 'tensorflow-gpu', modules: [GPU], status: 'selected' }]);
    expect(tf.tidy(() => Array.from(tf.matMul([[1, 2]], [[3], [4]]).dataSync()))).toEqual([11]);
  });

  it('keeps tfjs-node-gpu without a visible GPU, and says so', async () => {
    const { loader } = fakeLoader({ [GPU]: async () => (await registerFakeNative(false), {}) });
    const sel = await selectBackend('auto', { loader });
    expect(sel.ok && sel.backend).toBe('tensorflow-gpu');
    expect(sel.ok && sel.native?.usingGpu).toBe(false);
    expect(sel.candidates[0].reason).toMatch(/no ops on a GPU/);
  });

  it('falls back gpu -> node -> wasm, recording why each was skipped', async () => {
    const { loader, calls } = fakeLoader({
      [GPU]: async () => {
        throw notFound(GPU);
      },
      [NODE]: async () => {
        throw new Error('libtensorflow.so.2: cannot open shared object file: No such file or directory\n  at dlopen');
      },
      [WASM]: realWasm,
    });
    const sel = await selectBackend('auto', { loader });
    expect(sel.ok && sel.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(calls).toEqual([GPU, NODE, WASM]);
    expect(sel.candidates.map((c) => [c.backend, c.status, c.reason])).toEqual([
      ['tensorflow-gpu', 'skipped', `${GPU} is not installed`],
      [
        'tensorflow',
        'skipped',
        `${NODE} failed to load: libtensorflow.so.2: cannot open shared object file: No such file or directory`,
      ],
      ['wasm', 'selected', undefined],
    ]);
  });

  it('skips a package that registers no backend with our tfjs-core, then takes tfjs-node', async () => {
    const { loader } = fakeLoader({
      [GPU]: async () => ({}), // e.g. built against another @tensorflow/tfjs-core copy
      [NODE]: async () => (await registerFakeNative(false), {}),
    });
    const sel = await selectBackend('auto', { loader });
    expect(sel.ok && sel.backend).toBe('tensorflow');
    expect(sel.candidates[0]).toMatchObject({ backend: 'tensorflow-gpu', status: 'skipped' });
    expect(sel.candidates[0].reason).toMatch(/registered no 'tensorflow' backend .*tfjs-core 4\.22\.0/);
    expect(sel.candidates[1]).toMatchObject({ backend: 'tensorflow', status: 'selected' });
  });

  it('ends on the pure-JS cpu backend when nothing else loads, having tried AUTO_ORDER in order', async () => {
    const { loader, calls } = fakeLoader({});
    const sel = await selectBackend('auto', { loader });
    expect(sel.ok && sel.backend).toBe('cpu');
    expect(sel.candidates.map((c) => c.backend)).toEqual([...AUTO_ORDER]);
    expect(sel.candidates.map((c) => c.status)).toEqual(['skipped', 'skipped', 'skipped', 'selected']);
    expect(calls).toEqual([GPU, NODE, WASM]);
  });

  it('auto with the real loader: skips the native packages that are absent, saying so', async () => {
    const sel = await selectBackend('auto', { loader: defaultLoader });
    expect(sel.ok).toBe(true);
    expect(sel.candidates.map((c) => c.backend)).toEqual(AUTO_ORDER.slice(0, sel.candidates.length));
    expect(sel.candidates.at(-1)!.status).toBe('selected');
    if (!installed(GPU) && !installed(NODE)) {
      // This checkout: neither native package can be installed; wasm is a dependency.
      expect(sel.ok && sel.backend).toBe('wasm');
      expect(sel.candidates.map((c) => c.reason)).toEqual([
        `${GPU} is not installed`,
        `${NODE} is not installed`,
        undefined,
      ]);
    }
  });

  it('reports webgpu as not installed', async () => {
    const sel = await selectBackend('webgpu', { loader: fakeLoader({}).loader });
    expect(sel.ok).toBe(false);
    expect(sel.candidates).toEqual([
      {
        backend: 'webgpu',
        modules: ['@tensorflow/tfjs-backend-webgpu', 'webgpu'],
        status: 'skipped',
        reason: '@tensorflow/tfjs-backend-webgpu is not installed',
      },
    ]);
  });
});

describe('describeLoadError', () => {
  it('tells a missing package from a package that fails to load', () => {
    expect(describeLoadError(GPU, notFound(GPU))).toBe(`${GPU} is not installed`);
    expect(describeLoadError(GPU, new Error(`Failed to load url ${GPU} (resolved id: ${GPU})`))).toBe(
      `${GPU} is not installed`,
    );
    // A missing *dependency* of an installed package is not "not installed".
    expect(describeLoadError(GPU, notFound('@mapbox/node-pre-gyp'))).toMatch(
      /^@tensorflow\/tfjs-node-gpu failed to load: Cannot find package '@mapbox/,
    );
  });
});

/** Whether a package resolves from here (to know what the real auto selection should report). */
function installed(spec: string): boolean {
  try {
    createRequire(import.meta.url).resolve(spec);
    return true;
  } catch {
    return false;
  }
}

describe('initEngine', () => {
  it('honours DALM_BACKEND, lets an explicit option win, and is idempotent', async () => {
    const { loader, calls } = fakeLoader({ [WASM]: realWasm });
    const info = await initEngine({ loader, env: { DALM_BACKEND: 'wasm' } });
    expect(info).toMatchObject({ backend: 'wasm', tfBackend: 'wasm', requested: 'wasm', requestedBy: 'DALM_BACKEND' });
    expect(info.wasm?.fixes).toEqual([
      'unsorted-segment-sum',
      'matmul-transpose-kernel',
      'matmul-transpose-grad',
      'matmul-batched-2d',
    ]);
    expect(info.wasm?.multithreading).toBe(false); // tfjs-backend-wasm has no threads under Node
    expect(info.tfjsVersion).toBe('4.22.0');
    expect(info.memory.process!.rss).toBeGreaterThan(0);
    // The snapshot counts live tensors: one more allocated shows up as exactly one more.
    const held = tf.zeros([3]);
    expect(engineInfo().memory.tf.numTensors).toBe(info.memory.tf.numTensors + 1);
    held.dispose();

    // Idempotent: auto (or the same backend) returns the engine as is, loading nothing.
    const again = await initEngine({ loader });
    const same = await initEngine({ loader, backend: 'wasm' });
    expect([again.backend, same.backend]).toEqual(['wasm', 'wasm']);
    expect(calls).toEqual([WASM]);

    // Explicit option beats the environment variable.
    const cpu = await initEngine({ loader, backend: 'cpu', env: { DALM_BACKEND: 'wasm' } });
    expect(cpu).toMatchObject({ backend: 'cpu', requestedBy: 'option' });
    expect(cpu.fixes).toContain('cpu:UnsortedSegmentSum(scatter-add)');
    expect(engineInfo().backend).toBe('cpu');

    // A stray tf.setBackend is undone by the next initEngine.
    await tf.setBackend('wasm');
    const restored = await initEngine({ loader });
    expect([restored.backend, tf.getBackend()]).toEqual(['cpu', 'cpu']);
    expect(restored.notes).toEqual(["tf.setBackend('wasm') was called outside initEngine; restored 'cpu'"]);
  });

  it('fails on an explicitly requested backend, saying why and what is available', async () => {
    const { loader } = fakeLoader({ [WASM]: realWasm });
    await expect(initEngine({ loader, backend: 'tensorflow-gpu' })).rejects.toThrow(
      "Backend 'tensorflow-gpu' was requested (initEngine option backend) but cannot be used: " +
        `tensorflow-gpu: ${GPU} is not installed. Available here: wasm, cpu.`,
    );
    expect(tf.getBackend()).toBe('cpu'); // the previous backend stays active
    await expect(initEngine({ loader, env: { DALM_BACKEND: 'tensorflow' } })).rejects.toThrow(
      `requested (DALM_BACKEND) but cannot be used: tensorflow: ${NODE} is not installed`,
    );
  });

  it('rejects bad names and options, naming them', async () => {
    await expect(initEngine({ env: { DALM_BACKEND: 'gpu' } })).rejects.toThrow(
      "environment variable DALM_BACKEND='gpu' is not a backend; valid values: auto, tensorflow-gpu, tensorflow, wasm, cpu, webgpu",
    );
    // @ts-expect-error: not a BackendChoice
    await expect(initEngine({ backend: 'cuda' })).rejects.toThrow("initEngine option backend='cuda' is not a backend");
    await expect(initEngine({ backend: 'wasm', threads: 0 })).rejects.toThrow(
      'option threads=0 must be a positive integer',
    );
    // @ts-expect-error: not a WasmFixName
    await expect(initEngine({ backend: 'wasm', wasmFixes: ['fast'] })).rejects.toThrow("unknown wasm fix 'fast'");
  });

  it('notes that wasm threads are unavailable under Node', async () => {
    const info = await initEngine({ backend: 'wasm', threads: 2, loader: fakeLoader({ [WASM]: realWasm }).loader });
    expect(info.backend).toBe('wasm');
    expect(info.notes).toEqual(['threads=2 ignored: tfjs-backend-wasm 4.22 runs single-threaded under Node']);
    expect(info.wasm?.threads).toBe(1);
  });
});
