/**
 * Finding a WebGPU adapter for the tests that need one (engine-webgpu-ops.test.ts, test/webgpu-training.test.ts).
 *
 * Needs `webgpu` and `@tensorflow/tfjs-backend-webgpu` (optional; not dependencies yet) and an adapter.
 * The adapter tried first is the default one (a GPU through Vulkan/Metal/D3D12); failing that, Mesa's
 * llvmpipe as an OpenGL ES adapter in compatibility mode (Debian: libegl1 libgles2 libegl-mesa0), which
 * is how the kernels were checked on a machine without a GPU.
 *
 * To try packages installed outside this repo: DALM_WEBGPU_PACKAGES=/tmp/webgpu-try, an npm project with
 * both packages whose node_modules/@tensorflow/tfjs-core (and tfjs-backend-cpu) are symlinks to this
 * repo's copies (tfjs backends register with the tfjs-core instance they import).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { initEngine, type EngineInfo, type WebGpuOptions } from '../src/engine/backend';
import { defaultLoader, type ModuleLoader } from '../src/engine/module-loader';

const packagesDir = process.env.DALM_WEBGPU_PACKAGES;
/** Loads the optional packages from the repo, or from $DALM_WEBGPU_PACKAGES. */
export const webgpuLoader: ModuleLoader = packagesDir
  ? (spec) => import(pathToFileURL(createRequire(path.join(packagesDir, 'package.json')).resolve(spec)).href)
  : defaultLoader;

/** Mesa's llvmpipe through Dawn's OpenGL ES backend (EGL without a display). */
export const SOFTWARE_ADAPTER: WebGpuOptions = { dawnFlags: ['backend=opengles'], featureLevel: 'compatibility' };

/** The webgpu options that give an adapter here (the engine is left on webgpu), or why none does. */
export async function findAdapter(): Promise<{ options: WebGpuOptions; info: EngineInfo } | { skip: string }> {
  const reasons: string[] = [];
  for (const options of [{}, SOFTWARE_ADAPTER]) {
    if (options === SOFTWARE_ADAPTER) process.env.EGL_PLATFORM ??= 'surfaceless';
    try {
      return { options, info: await initEngine({ backend: 'webgpu', loader: webgpuLoader, webgpu: options }) };
    } catch (err) {
      reasons.push(
        (err as Error).message.replace(/^.*cannot be used: webgpu: /, '').replace(/\. Available here:.*$/, ''),
      );
      if (/is not installed|failed to load/.test(reasons[0])) break;
    }
  }
  return { skip: reasons.join(' / ') };
}
