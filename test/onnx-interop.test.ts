/**
 * "Use your adapted models anywhere": a retriever exported by `dalm export onnx` loads unchanged in
 * transformers.js (@huggingface/transformers 3.8, its `feature-extraction` pipeline, local files
 * only) and gives the framework's embeddings within 1e-4; an exported Llama/Qwen2 generator runs
 * in transformers.js' `text-generation` pipeline and generates HF's greedy tokens (reference.json);
 * and the CLI indexes on ONNX Runtime and searches the same index on tfjs (one fingerprint).
 * Skips when onnxruntime-node or @huggingface/transformers is not installed, or the fixture is missing.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine, loadOnnxRuntime } from '@dalm/core';
import { loadEncoder } from '@dalm/retriever';
import { runCli } from './helpers/run-cli';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const bertTiny = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny', 'bert-tiny');
const ort = await loadOnnxRuntime();
const transformers = await import('@huggingface/transformers').catch(() => null);
const missing = [
  !ort && 'onnxruntime-node',
  !transformers && '@huggingface/transformers',
  !existsSync(bertTiny) && bertTiny,
].filter(Boolean);
if (missing.length)
  console.warn(
    `onnx-interop.test: skipped — missing ${missing.join(', ')} (ONNXRUNTIME_NODE_INSTALL_CUDA=skip pnpm install)`,
  );

const TEXTS = ['Hello, world! How are you?', 'The quick brown fox jumps over the lazy dog.', 'a cat', 'is this good?'];

const run = (args: string[]) => runCli(args);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.skipIf(missing.length > 0)('ONNX export interop', () => {
  let tmp: string;
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'dalm-onnx-interop-'));
    // A private export cache: an export of the same weights cached by an earlier run would be reused
    // instead of the first-use export into the model directory that this file checks.
    process.env.DALM_CACHE_DIR = path.join(tmp, 'dalm-cache');
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it("transformers.js' feature-extraction pipeline gives the framework's embeddings within 1e-4", async () => {
    const out = path.join(tmp, 'models', 'bert-tiny-onnx');
    const summary = JSON.parse(await run(['export', 'onnx', bertTiny, '--out', out, '--json'])) as {
      modelFile: string;
    };
    expect(summary.modelFile).toBe(path.join(out, 'onnx', 'model.onnx'));

    const { env, pipeline } = transformers!;
    env.allowRemoteModels = false;
    env.localModelPath = path.join(tmp, 'models');
    const extractor = await pipeline('feature-extraction', 'bert-tiny-onnx', { local_files_only: true, dtype: 'fp32' });
    const tensor = await extractor(TEXTS, { pooling: 'mean', normalize: true });
    expect(tensor.dims).toEqual([TEXTS.length, 32]);
    const got = tensor.data as Float32Array;

    const enc = await loadEncoder(bertTiny); // tfjs, the framework's own forward pass
    const want = await enc.embedPassages(TEXTS);
    enc.dispose();
    for (let i = 0; i < TEXTS.length; i++)
      expect(maxDiff(got.subarray(i * 32, (i + 1) * 32), want[i]!)).toBeLessThan(1e-4);
    await extractor.dispose();
  });

  it('indexes on ONNX Runtime and searches the same index on tfjs with the same hits', async () => {
    const model = path.join(tmp, 'retriever');
    await mkdir(model, { recursive: true });
    for (const f of await readdir(bertTiny, { withFileTypes: true }))
      if (f.isFile()) await copyFile(path.join(bertTiny, f.name), path.join(model, f.name));
    const corpus = TEXTS.map((text, i) => JSON.stringify({ id: `p${i}`, text })).join('\n') + '\n';
    await writeFile(path.join(tmp, 'corpus.jsonl'), corpus);
    const index = path.join(tmp, 'index');
    const built = JSON.parse(
      await run([
        'index',
        path.join(tmp, 'corpus.jsonl'),
        '--out',
        index,
        '--retriever',
        model,
        '--chunk-tokens',
        '0',
        '--runtime',
        'onnx',
        '--json',
      ]),
    ) as { fingerprint: string };
    expect(existsSync(path.join(model, 'onnx', 'model.onnx'))).toBe(true); // exported on first use
    const search = async (runtime: string) =>
      (
        JSON.parse(
          await run(['search', index, 'a cat', '--mode', 'dense', '-k', '4', '--runtime', runtime, '--json']),
        ) as { hits: { id: string; score: number }[] }
      ).hits;
    const viaOnnx = await search('onnx');
    const viaTfjs = await search('tfjs');
    expect(viaOnnx.map((h) => h.id)).toEqual(viaTfjs.map((h) => h.id));
    expect(viaOnnx[0]!.id).toBe('p2'); // the passage identical to the query
    for (let i = 0; i < viaOnnx.length; i++) expect(Math.abs(viaOnnx[i]!.score - viaTfjs[i]!.score)).toBeLessThan(1e-4);
    const tfjsEnc = await loadEncoder(model);
    expect(built.fingerprint).toBe(tfjsEnc.fingerprint);
    tfjsEnc.dispose();
    const doctor = JSON.parse(await run(['doctor', '--json'])) as {
      inference: { runtime: string; onnxRuntime: { threads: number } };
    };
    expect(doctor.inference.runtime).toBe('onnx');
    expect(doctor.inference.onnxRuntime.threads).toBe(os.availableParallelism());
  });

  for (const name of ['llama-tiny', 'qwen2-tiny', 'gpt2-tiny']) {
    it(`transformers.js' text-generation pipeline generates HF's greedy tokens with the exported ${name}`, async () => {
      const fixture = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny', name);
      const out = path.join(tmp, 'models', `${name}-onnx`);
      const summary = JSON.parse(await run(['export', 'onnx', fixture, '--out', out, '--json'])) as { kind: string };
      expect(summary.kind).toBe('decoder');
      const { env, pipeline, Tensor } = transformers!;
      env.allowRemoteModels = false;
      env.localModelPath = path.join(tmp, 'models');
      const pipe = await pipeline('text-generation', `${name}-onnx`, { local_files_only: true, dtype: 'fp32' });
      const ref = JSON.parse(await readFile(path.join(fixture, 'reference.json'), 'utf8')) as {
        generate: {
          name: string;
          inputs: { input_ids: number[][]; attention_mask: number[][] };
          params: { max_new_tokens: number };
          new_tokens: number[][];
        }[];
      };
      for (const g of ref.generate) {
        const t = (rows: number[][]) =>
          new Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0]!.length]);
        const seqs = (await pipe.model.generate({
          inputs: t(g.inputs.input_ids),
          attention_mask: t(g.inputs.attention_mask),
          max_new_tokens: g.params.max_new_tokens,
          min_new_tokens: g.params.max_new_tokens,
          do_sample: false,
        } as never)) as { tolist(): bigint[][] };
        const width = g.inputs.input_ids[0]!.length;
        const got = seqs.tolist().map((row) => row.slice(width).map(Number));
        expect(got, g.name).toEqual(g.new_tokens);
      }
      await pipe.dispose();
    });
  }

  it('dalm ask answers the same on ONNX Runtime as on tfjs (exported on first use into the generator dir)', async () => {
    const fixture = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny', 'qwen2-tiny');
    const gen = path.join(tmp, 'generator');
    await mkdir(gen, { recursive: true });
    for (const f of await readdir(fixture, { withFileTypes: true }))
      if (f.isFile()) await copyFile(path.join(fixture, f.name), path.join(gen, f.name));
    const ask = async (runtime: string) =>
      JSON.parse(
        await run([
          'ask',
          'The quick brown',
          '--generator',
          gen,
          '--closed-book',
          '--max-new-tokens',
          '12',
          '--runtime',
          runtime,
          '--json',
        ]),
      ) as { answer: string };
    const viaOnnx = await ask('onnx');
    expect(existsSync(path.join(gen, 'onnx', 'model.onnx'))).toBe(true);
    const viaTfjs = await ask('tfjs');
    expect(viaOnnx.answer.length).toBeGreaterThan(0);
    expect(viaOnnx.answer).toBe(viaTfjs.answer);
  });
});
