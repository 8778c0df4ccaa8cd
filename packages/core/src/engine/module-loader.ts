/**
 * Loading the optional backend packages (tfjs-node(-gpu), tfjs-backend-wasm, tfjs-backend-webgpu, webgpu),
 * which are not dependencies: they are imported by a computed specifier, so that TypeScript and bundlers
 * do not try to resolve them, and a failure to load becomes a reason the backend was skipped.
 *
 * A single-file bundle (scripts/bundle.mjs) cannot resolve packages at run time; it hands the modules it
 * bundled to `provideBackendModule` before the CLI starts, and `defaultLoader` answers with those.
 */

/** Loads a module by specifier (default: dynamic `import()`); tests inject fakes. */
export type ModuleLoader = (specifier: string) => Promise<unknown>;

/** Modules handed over by a bundle, by specifier: a function that imports one on first use. */
const provided = new Map<string, () => Promise<unknown>>();

/**
 * Makes `defaultLoader(specifier)` answer with what `load` imports, instead of importing `specifier`.
 * For bundles, which carry the backend packages inside (sharing the bundle's one copy of tfjs-core) and
 * have no node_modules folder to find them in.
 *
 * @example
 *   provideBackendModule('@tensorflow/tfjs-backend-wasm', () => import('@tensorflow/tfjs-backend-wasm'));
 */
export function provideBackendModule(specifier: string, load: () => Promise<unknown>): void {
  if (typeof load !== 'function')
    throw new Error(`provideBackendModule('${specifier}'): load must be a function returning import()`);
  provided.set(specifier, load);
}

/** A provided module, else `import()` of a computed specifier (which TypeScript and bundlers leave alone). */
export const defaultLoader: ModuleLoader = (specifier) => {
  const load = provided.get(specifier);
  return load ? load() : import(/* @vite-ignore */ specifier);
};

/** "X is not installed" for a missing package, else the first line of the error. */
export function describeLoadError(spec: string, err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const missing =
    code === 'ERR_MODULE_NOT_FOUND' ||
    code === 'MODULE_NOT_FOUND' ||
    /Cannot find (package|module)|Failed to (load|resolve)/i.test(message);
  if (missing && message.includes(spec)) return `${spec} is not installed`;
  return `${spec} failed to load: ${firstLine(err)}`;
}

/** The first line of an error's message. */
export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0].trim();
}
