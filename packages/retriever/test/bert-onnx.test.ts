/**
 * ONNX export of the encoder, tested by running the export on ONNX Runtime:
 * - bert-tiny's export gives HF transformers' last_hidden_state (reference.json, computed by
 *   PyTorch) within 1e-4 at every real token;
 * - OnnxEncoder vectors equal the tfjs Encoder's within 1e-4 (bert-tiny with E5 prefixes, and a
 *   from-scratch encoder with another activation, max pooling and no normalisation), with the same
 *   fingerprint;
 * - the export made on first use is reused while the weights are unchanged and redone after they
 *   change; a read-only model directory, or one holding a model.onnx the framework did not write,
 *   is left untouched (the export goes to the cache directory).
 * Skips when onnxruntime-node (an optional dependency) is not installed.
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createOnnxSession, loadOnnxRuntime, trainWordPiece } from '@dalm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ONNX_DIR, ONNX_MODEL_FILE, exportEncoderOnnx } from '../src/bert-onnx';
import { createEncoder, loadEncoder } from '../src/encoder';
import { loadOnnxEncoder } from '../src/onnx-encoder';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const bertTiny = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny', 'bert-tiny');
const ort = await loadOnnxRuntime();
if (!ort)
  console.warn(
    'bert-onnx.test: skipped — onnxruntime-node is not installed (ONNXRUNTIME_NODE_INSTALL_CUDA=skip pnpm install)',
  );
if (!existsSync(bertTiny)) console.warn(`bert-onnx.test: skipped — fixture ${bertTiny} is missing`);

const TEXTS = [
  'Hello, world! How are you?',
  'The quick brown fox jumps over the lazy dog.',
  'a cat',
  'My cat sat on the mat; it is a good day.',
  'play, run, walk; jump over the green dog and the red fox, then sat on the mat.',
  'is this good?',
];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function copyDir(from: string, to: string): Promise<string> {
  await mkdir(to, { recursive: true });
  for (const f of await readdir(from, { withFileTypes: true }))
    if (f.isFile()) await copyFile(path.join(from, f.name), path.join(to, f.name));
  return to;
}

interface Ref {
  forward: {
    inputs: Record<string, number[][]>;
    outputs: Record<string, { data: number[] | number[][][]; shape: number[] }>;
  }[];
}

describe.skipIf(!ort || !existsSync(bertTiny))('BERT ONNX export on ONNX Runtime', () => {
  let tmp: string;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    tmp = await mkdtemp(path.join(os.tmpdir(), 'dalm-bert-onnx-'));
    // A private export cache: a cached export of the same weights from an earlier run would otherwise be
    // reused instead of the first-use export into the model directory that these tests check.
    process.env.DALM_CACHE_DIR = path.join(tmp, 'dalm-cache');
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it("gives HF transformers' last_hidden_state for bert-tiny within 1e-4", async () => {
    const enc = await loadEncoder(bertTiny);
    const { modelFile } = await exportEncoderOnnx(enc, path.join(tmp, 'bert-tiny-onnx'));
    enc.dispose();
    const ref = (JSON.parse(await readFile(path.join(bertTiny, 'reference.json'), 'utf8')) as Ref).forward[0]!;
    const { session } = await createOnnxSession(modelFile, { threads: 1 });
    const ids = ref.inputs.input_ids!;
    const shape = [ids.length, ids[0]!.length];
    const t = (rows: number[][]) => new ort!.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), shape);
    const out = await session.run({
      input_ids: t(ids),
      attention_mask: t(ref.inputs.attention_mask!),
      token_type_ids: t(ref.inputs.token_type_ids!),
    });
    const got = out.last_hidden_state!.data as Float32Array;
    const want = (ref.outputs.last_hidden_state!.data as number[][][]).flat(2);
    expect(out.last_hidden_state!.dims).toEqual(ref.outputs.last_hidden_state!.shape);
    const mask = ref.inputs.attention_mask!.flat();
    const hidden = shape[1] === undefined ? 0 : ref.outputs.last_hidden_state!.shape[2]!;
    let m = 0;
    mask.forEach((on, pos) => {
      if (on)
        for (let h = 0; h < hidden; h++) m = Math.max(m, Math.abs(got[pos * hidden + h]! - want[pos * hidden + h]!));
    });
    expect(m).toBeLessThan(1e-4);
    await session.release();
  });

  it('embeds bert-tiny texts as the tfjs encoder does (prefixes, mean pooling, normalised), same fingerprint', async () => {
    const dir = await copyDir(bertTiny, path.join(tmp, 'bert-tiny'));
    const overrides = { queryPrefix: 'red ', passagePrefix: 'the blue walk ' }; // words in bert-tiny's 99-token vocabulary
    const tfEnc = await loadEncoder(dir, overrides);
    const onnxEnc = await loadOnnxEncoder(dir, { overrides, threads: 2 });
    expect(onnxEnc.modelFile).toBe(path.join(dir, ONNX_DIR, ONNX_MODEL_FILE));
    expect(onnxEnc.fingerprint).toBe(tfEnc.fingerprint);
    for (const kind of ['query', 'passage'] as const) {
      const a = kind === 'query' ? await tfEnc.embedQueries(TEXTS) : await tfEnc.embedPassages(TEXTS);
      const b = kind === 'query' ? await onnxEnc.embedQueries(TEXTS) : await onnxEnc.embedPassages(TEXTS);
      for (let i = 0; i < TEXTS.length; i++) expect(maxDiff(a[i]!, b[i]!)).toBeLessThan(1e-4);
    }
    // Prefixes matter (so the comparison above covered them): query and passage vectors differ.
    expect(
      maxDiff((await onnxEnc.embedQueries(['a cat']))[0]!, (await onnxEnc.embedPassages(['a cat']))[0]!),
    ).toBeGreaterThan(1e-3);
    tfEnc.dispose();
    onnxEnc.dispose();
  });

  it('reuses the export while the weights are unchanged and exports again after retraining', async () => {
    const dir = await copyDir(bertTiny, path.join(tmp, 'bert-tiny-retrain'));
    const first = await loadOnnxEncoder(dir, { threads: 1 });
    const modelFile = path.join(dir, ONNX_DIR, ONNX_MODEL_FILE);
    const mtime1 = (await stat(modelFile)).mtimeMs;
    const [v1] = await first.embedPassages(['a cat']);
    first.dispose();
    const again = await loadOnnxEncoder(dir, { threads: 1 });
    expect((await stat(modelFile)).mtimeMs).toBe(mtime1);
    again.dispose();

    // "Retrain": change the weights and save over the directory.
    const enc = await loadEncoder(dir);
    const w = enc.params.get('encoder.layer.0.intermediate.dense.weight');
    w.assign(tf.mul(w, 1.5));
    enc.params.markChanged();
    await enc.save(dir);
    const tfVec = (await enc.embedPassages(['a cat']))[0]!;
    const retrained = await loadOnnxEncoder(dir, { threads: 1 });
    expect(retrained.fingerprint).toBe(enc.fingerprint);
    const [v2] = await retrained.embedPassages(['a cat']);
    expect(maxDiff(v2!, tfVec)).toBeLessThan(1e-4);
    expect(maxDiff(v1!, v2!)).toBeGreaterThan(1e-3); // the new export really has the new weights
    retrained.dispose();
    enc.dispose();
  });

  it('never writes into a read-only model directory or over a model.onnx it did not write (the cache gets the export)', async () => {
    const cache = path.join(tmp, 'cache');
    const saved = process.env.DALM_CACHE_DIR;
    process.env.DALM_CACHE_DIR = cache;
    try {
      const ro = await copyDir(bertTiny, path.join(tmp, 'read-only'));
      await chmod(ro, 0o555);
      const a = await loadOnnxEncoder(ro, { threads: 1 });
      expect(a.modelFile.startsWith(path.join(cache, 'onnx'))).toBe(true);
      expect(existsSync(path.join(ro, ONNX_DIR))).toBe(false);
      a.dispose();
      await chmod(ro, 0o755);

      const foreign = await copyDir(bertTiny, path.join(tmp, 'foreign'));
      await mkdir(path.join(foreign, ONNX_DIR));
      await writeFile(path.join(foreign, ONNX_DIR, ONNX_MODEL_FILE), 'not ours');
      const b = await loadOnnxEncoder(foreign, { threads: 1 });
      expect(b.modelFile).toBe(a.modelFile); // same weights, same cached export
      expect(await readFile(path.join(foreign, ONNX_DIR, ONNX_MODEL_FILE), 'utf8')).toBe('not ours');
      b.dispose();
    } finally {
      if (saved === undefined) delete process.env.DALM_CACHE_DIR;
      else process.env.DALM_CACHE_DIR = saved;
    }
  });

  it('embeds as the tfjs encoder does for a from-scratch encoder (gelu_new, max pooling, unnormalised)', async () => {
    const corpus = [
      ...TEXTS,
      'the virus binds the receptor',
      'incubation period of five days',
      'masks reduce transmission',
    ];
    const tokenizer = trainWordPiece(corpus, { vocabSize: 200 });
    const scratch = createEncoder({
      tokenizer,
      config: {
        hidden_size: 48,
        num_hidden_layers: 3,
        num_attention_heads: 4,
        intermediate_size: 96,
        hidden_act: 'gelu_new',
        max_position_embeddings: 64,
      },
      settings: { pooling: 'max', normalize: false, maxLength: 16, queryPrefix: 'q: ' },
      seed: 7,
    });
    const dir = path.join(tmp, 'scratch');
    await scratch.save(dir);
    const onnxEnc = await loadOnnxEncoder(dir, { threads: 2 });
    expect(onnxEnc.fingerprint).toBe(scratch.fingerprint);
    const long = [...corpus, corpus.join(' ')]; // the last one is truncated to maxLength
    const a = await scratch.embedQueries(long);
    const b = await onnxEnc.embedQueries(long);
    for (let i = 0; i < long.length; i++) expect(maxDiff(a[i]!, b[i]!)).toBeLessThan(1e-4);
    expect(Math.abs(Math.hypot(...b[0]!) - 1)).toBeGreaterThan(1e-3); // really unnormalised
    onnxEnc.dispose();
    scratch.dispose();
  });
});
