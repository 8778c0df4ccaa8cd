/**
 * Installable from npm, tested as a user would: every package is built and packed (`pnpm release:dry`),
 * the tarballs are installed with npm into a fresh project outside the repository, and then, with plain
 * Node (no tsx, nothing resolving into the repository): each package imports and exposes its public
 * names, a ten-line script builds a BM25 + dense index with a from-scratch encoder and searches it,
 * `npx dalm doctor` and `npx dalm --help` run, and a `.ts` file type-checks against the installed
 * declarations (with `@ts-expect-error` lines proving the types are real, not `any`).
 *
 * Needs the npm registry (the packages' own dependencies install from it). Takes 2-4 minutes: most of
 * it is building the declaration files.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(__dirname, '..');
const project = fs.mkdtempSync(path.join(os.tmpdir(), 'dalm-user-'));
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

const env = {
  ...process.env,
  DALM_BACKEND: '',
  // node-gyp (hnswlib-node) uses the installed Node headers instead of downloading them, where they exist.
  ...(fs.existsSync('/usr/include/node/node.h') && !process.env.npm_config_nodedir
    ? { npm_config_nodedir: '/usr' }
    : {}),
  ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip',
};
const sh = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: 'pipe', maxBuffer: 64 << 20 });

const PACKAGES: Record<string, string[]> = {
  '@dalm/core': ['initEngine', 'readSafetensors', 'writeModelDir', 'loadTokenizer', 'trainWordPiece', 'atomicWriteDir'],
  '@dalm/retriever': [
    'loadEncoder',
    'createEncoder',
    'loadPassages',
    'buildIndexDir',
    'IndexDir',
    'Bm25Index',
    'IrEvaluator',
  ],
  '@dalm/generator': ['loadGenerator', 'RagPipeline', 'generate', 'saveGenerator', 'applyLora', 'scoreAnswers'],
  '@dalm/trainer': [
    'train',
    'trainRetriever',
    'trainGenerator',
    'trainEndToEnd',
    'scratchEncoder',
    'scratchGenerator',
    'runQuickstart',
  ],
  '@dalm/server': ['createServer', 'startServer', 'loadServeModels', 'validateServerConfig'],
  '@dalm/cli': ['buildProgram'],
  '@dalm/all': ['initEngine', 'loadEncoder', 'RagPipeline', 'trainRetriever', 'createServer'],
};

describe('installed from packed tarballs with npm', () => {
  it('packs every package, installs them in a fresh project, and they work on plain Node', () => {
    sh('pnpm', ['release:dry'], repoRoot);
    const packs = path.join(repoRoot, 'dist', 'packs');
    const tarballs = fs
      .readdirSync(packs)
      .filter((f) => f.endsWith('.tgz'))
      .map((f) => path.join(packs, f));
    expect(tarballs.length).toBe(Object.keys(PACKAGES).length);
    sh('npm', ['init', '-y'], project);
    sh('npm', ['install', '--no-audit', '--no-fund', ...tarballs, '@types/node@20'], project);

    // Each package imports with plain Node, from the project's node_modules, with its public names.
    const probe = path.join(project, 'probe.mjs');
    fs.writeFileSync(
      probe,
      `const out = {};\nfor (const name of ${JSON.stringify(Object.keys(PACKAGES))}) {\n  const m = await import(name);\n  out[name] = { resolved: import.meta.resolve(name), names: Object.keys(m) };\n}\nconsole.log(JSON.stringify(out));\n`,
    );
    const probed = JSON.parse(sh(process.execPath, [probe], project)) as Record<
      string,
      { resolved: string; names: string[] }
    >;
    for (const [name, expected] of Object.entries(PACKAGES)) {
      const got = probed[name]!;
      expect(
        got.resolved.startsWith(`file://${fs.realpathSync(project)}/node_modules/`),
        `${name} resolved to ${got.resolved}`,
      ).toBe(true);
      for (const n of expected) expect(got.names, `${name} exports ${n}`).toContain(n);
    }

    // Ten lines a user would write: BM25 + dense index over five documents, searched.
    const script = path.join(project, 'index-and-search.mjs');
    fs.writeFileSync(
      script,
      `import { initEngine } from '@dalm/core';
import { buildIndexDir, IndexDir } from '@dalm/retriever';
import { scratchEncoder } from '@dalm/trainer';
await initEngine({ backend: 'cpu' });
const texts = ['Bats host many coronaviruses.', 'Surgical masks reduce droplet spread.', 'The incubation period is about five days.', 'Vaccines train the immune system.', 'Fever is a common symptom.'];
const passages = texts.map((text, i) => ({ id: 'd' + i, text, source: 'd' + i, start: 0, end: text.length }));
const encoder = scratchEncoder(texts, 'tiny', 1);
await buildIndexDir('idx', passages, encoder, { denseKind: 'exact' });
const index = await IndexDir.open('idx', encoder);
const bm25 = await index.retrieval('bm25').search('incubation period', { k: 1 });
const dense = await index.retrieval('dense').search('incubation period', { k: 5 });
console.log(JSON.stringify({ bm25: bm25[0].id, dense: dense.map((h) => h.id).sort() }));
`,
    );
    expect(JSON.parse(sh(process.execPath, [script], project))).toEqual({
      bm25: 'd2',
      dense: ['d0', 'd1', 'd2', 'd3', 'd4'],
    });

    // The binary, through npx.
    expect(sh('npx', ['dalm', 'doctor'], project)).toMatch(/^backend +wasm/m);
    expect(sh('npx', ['dalm', '--help'], project)).toContain('Usage: dalm [options] [command]');

    // Types: a user's .ts file checks against the installed declarations; wrong uses are errors.
    fs.writeFileSync(
      path.join(project, 'check.ts'),
      `import { initEngine, type Tokenizer } from '@dalm/core';
import { buildIndexDir, IndexDir, type Passage } from '@dalm/retriever';
import { RagPipeline } from '@dalm/generator';
import { scratchEncoder, trainRetriever, type RetrieverTrainConfig } from '@dalm/trainer';
import * as all from '@dalm/all';
const cfg: Partial<RetrieverTrainConfig> = { steps: 1, batchSize: 2 };
const p: Passage = { id: 'a', text: 't', source: 'a', start: 0, end: 1 };
export async function f(tok: Tokenizer): Promise<number> {
  await initEngine({ backend: 'cpu' });
  const enc = scratchEncoder([p.text], 'tiny', 1);
  await trainRetriever(enc, [{ query: 'q', positive: 'p' }, { query: 'r', positive: 's' }], cfg);
  await buildIndexDir('idx', [p], enc);
  const idx = await IndexDir.open('idx', enc);
  void RagPipeline; void all.initEngine;
  return tok.encode('x').length + idx.passages().length;
}
// @ts-expect-error steps is a number
export const bad: Partial<RetrieverTrainConfig> = { steps: 'many' };
// @ts-expect-error a Passage needs its source and offsets
export const badPassage: Passage = { id: 'a', text: 't' };
`,
    );
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        files: ['check.ts'],
      }),
    );
    // The compiler is the repository's (a tool); every module it resolves is the project's.
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const traced = sh(process.execPath, [tsc, '-p', 'tsconfig.json', '--listFiles'], project);
    const dalmFiles = traced.split('\n').filter((l) => l.includes('@dalm/'));
    expect(dalmFiles.length).toBeGreaterThanOrEqual(5); // core, retriever, generator, trainer, all
    for (const f of dalmFiles) expect(f.startsWith(fs.realpathSync(project)), f).toBe(true);
  }, 900_000);
});
