/**
 * BERT parity with Hugging Face `transformers` (BertModel, PyTorch float32) on the bert-tiny fixture:
 * tokenizer ids exact; last_hidden_state (real tokens), pooler_output, CLS, mean and normalised
 * mean within abs 1e-5, on the cpu and wasm backends. Plus config validation and checkpoint-name
 * normalisation.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initEngine, readSafetensors, type HostTensor } from '@dalm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BertModel, bertStateDict } from '../src/bert';
import { SMALL_BERT_CONFIG, validateBertConfig } from '../src/bert-config';
import { loadEncoder, type Encoder } from '../src/encoder';
import { clsPool, l2Normalize, meanPool } from '../src/pooling';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const bertTiny = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny', 'bert-tiny');
const ATOL = 1e-5;

interface RefTensor {
  shape: number[];
  data: unknown;
}
interface Reference {
  tokenizer: { cases: { text: string; ids: number[] }[] };
  forward: {
    inputs: { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][] };
    outputs: Record<
      'last_hidden_state' | 'pooler_output' | 'cls' | 'mean_pooled' | 'mean_pooled_normalized',
      RefTensor
    >;
  }[];
}

/** Largest |a − b| over entries where `keep(index path)` holds. */
function maxAbsDiff(
  actual: unknown,
  expected: unknown,
  keep: (idx: number[]) => boolean = () => true,
  idx: number[] = [],
): number {
  if (typeof expected === 'number') return keep(idx) ? Math.abs((actual as number) - expected) : 0;
  const e = expected as unknown[];
  const a = actual as unknown[];
  expect(a.length).toBe(e.length);
  let m = 0;
  for (let i = 0; i < e.length; i++) m = Math.max(m, maxAbsDiff(a[i], e[i], keep, [...idx, i]));
  return m;
}

describe.skipIf(!existsSync(bertTiny))('BERT parity with transformers on bert-tiny', () => {
  const ref = existsSync(bertTiny)
    ? (JSON.parse(readFileSync(path.join(bertTiny, 'reference.json'), 'utf8')) as Reference)
    : null!;
  const batch = ref ? ref.forward[0]! : null!;
  const mask = batch?.inputs.attention_mask;

  for (const backend of ['cpu', 'wasm'] as const) {
    describe(`on ${backend}`, () => {
      let enc: Encoder;
      beforeAll(async () => {
        await initEngine({ backend });
        expect(tf.getBackend()).toBe(backend);
        enc = await loadEncoder(bertTiny, { normalize: false });
      });
      afterAll(() => enc.dispose());

      it('tokenizes the reference texts to the reference ids and model inputs', () => {
        const texts = ref.tokenizer.cases.map((c) => c.text);
        const rows = enc.tokenize(texts);
        expect(rows).toEqual(ref.tokenizer.cases.map((c) => c.ids));
        // …and to the padded batch the reference forward pass ran on.
        rows.forEach((row, i) => {
          const len = mask[i]!.reduce((s, v) => s + v, 0);
          expect(row).toEqual(batch.inputs.input_ids[i]!.slice(0, len));
          expect(batch.inputs.input_ids[i]!.slice(len).every((id) => id === 0)).toBe(true);
        });
      });

      it('matches last_hidden_state, pooler_output, cls, mean and normalised mean within 1e-5', () => {
        const out = tf.tidy(() => {
          const ids = tf.tensor2d(batch.inputs.input_ids, undefined, 'int32');
          const m = tf.tensor2d(mask, undefined, 'int32');
          const types = tf.tensor2d(batch.inputs.token_type_ids, undefined, 'int32');
          const { lastHiddenState, poolerOutput } = enc.model.forward(ids, m, types);
          const mean = meanPool(lastHiddenState, m);
          return {
            last_hidden_state: lastHiddenState.arraySync(),
            pooler_output: poolerOutput!.arraySync(),
            cls: clsPool(lastHiddenState).arraySync(),
            mean_pooled: mean.arraySync(),
            mean_pooled_normalized: l2Normalize(mean).arraySync(),
          };
        });
        const expected = batch.outputs;
        expect(expected.last_hidden_state.shape).toEqual([5, 22, 32]);
        const diffs = {
          last_hidden_state: maxAbsDiff(
            out.last_hidden_state,
            expected.last_hidden_state.data,
            ([b, t]) => mask[b!]![t!] === 1,
          ),
          pooler_output: maxAbsDiff(out.pooler_output, expected.pooler_output.data),
          cls: maxAbsDiff(out.cls, expected.cls.data),
          mean_pooled: maxAbsDiff(out.mean_pooled, expected.mean_pooled.data),
          mean_pooled_normalized: maxAbsDiff(out.mean_pooled_normalized, expected.mean_pooled_normalized.data),
        };
        console.log(`bert-tiny parity on ${backend}:`, JSON.stringify(diffs));
        for (const d of Object.values(diffs)) expect(d).toBeLessThanOrEqual(ATOL);
      });

      it('embeds texts end to end (tokenize → bucketed batches → mean → L2) to the reference vectors', async () => {
        const normed = await loadEncoder(bertTiny); // defaults of a plain HF dir: mean pooling, normalised
        try {
          expect(normed.settings).toMatchObject({
            pooling: 'mean',
            normalize: true,
            queryPrefix: '',
            passagePrefix: '',
            maxLength: 64,
          });
          const vectors = await normed.embedPassages(ref.tokenizer.cases.map((c) => c.text));
          const d = maxAbsDiff(
            vectors.map((v) => [...v]),
            batch.outputs.mean_pooled_normalized.data,
          );
          expect(d).toBeLessThanOrEqual(ATOL);
        } finally {
          normed.dispose();
        }
      });

      it('pools with cls through encodeTensor', async () => {
        const clsEnc = await loadEncoder(bertTiny, { pooling: 'cls', normalize: false });
        try {
          const cls = tf.tidy(() => clsEnc.encodeTensor(ref.tokenizer.cases.map((c) => c.text)).arraySync());
          expect(maxAbsDiff(cls, batch.outputs.cls.data)).toBeLessThanOrEqual(ATOL);
        } finally {
          clsEnc.dispose();
        }
      });
    });
  }

  describe('checkpoint names', () => {
    beforeAll(async () => {
      await initEngine({ backend: 'cpu' });
    });

    it('accepts a `bert.` prefix and ignores cls.* heads and position_ids buffers', async () => {
      const raw = await readSafetensors(path.join(bertTiny, 'model.safetensors'));
      const prefixed = new Map<string, HostTensor>();
      for (const [name, t] of raw) prefixed.set(`bert.${name}`, { shape: t.shape, data: t.data as Float32Array });
      prefixed.set('cls.predictions.bias', { shape: [99], data: new Float32Array(99) });
      prefixed.set('cls.predictions.transform.dense.weight', { shape: [32, 32], data: new Float32Array(32 * 32) });
      prefixed.set('bert.embeddings.position_ids', { shape: [1, 64], data: new Float32Array(64) });
      const { tensors, hasPooler } = bertStateDict(prefixed);
      expect(hasPooler).toBe(true);
      expect([...tensors.keys()].sort()).toEqual([...raw.keys()].sort());

      const config = validateBertConfig(JSON.parse(readFileSync(path.join(bertTiny, 'config.json'), 'utf8')));
      const model = new BertModel(config);
      model.loadWeights(tensors, 'prefixed');
      const hidden = tf.tidy(() => {
        const ids = tf.tensor2d([batch.inputs.input_ids[0]!.slice(0, 10)], undefined, 'int32');
        return model.forward(ids, tf.onesLike(ids)).lastHiddenState.arraySync() as number[][][];
      });
      const expected = (batch.outputs.last_hidden_state.data as number[][][])[0]!.slice(0, 10);
      expect(maxAbsDiff(hidden[0], expected)).toBeLessThanOrEqual(ATOL);
      model.dispose();
    });

    it('builds no pooler for a checkpoint without one, and a missing tensor is an error naming the source', async () => {
      const raw = await readSafetensors(path.join(bertTiny, 'model.safetensors'));
      const noPooler = new Map<string, HostTensor>();
      for (const [name, t] of raw)
        if (!name.startsWith('pooler.')) noPooler.set(name, { shape: t.shape, data: t.data as Float32Array });
      const { tensors, hasPooler } = bertStateDict(noPooler);
      expect(hasPooler).toBe(false);
      const config = validateBertConfig({ ...JSON.parse(readFileSync(path.join(bertTiny, 'config.json'), 'utf8')) });
      const bare = new BertModel(config, { pooler: false });
      bare.loadWeights(tensors, 'no-pooler.safetensors');
      const out = tf.tidy(() => {
        const ids = tf.tensor2d([[2, 16, 3]], undefined, 'int32');
        const o = bare.forward(ids, tf.onesLike(ids));
        return o.poolerOutput === null;
      });
      expect(out).toBe(true);
      bare.dispose();

      const withPooler = new BertModel(config);
      expect(() => withPooler.loadWeights(tensors, 'no-pooler.safetensors')).toThrow(
        /no-pooler\.safetensors: missing tensors pooler\.dense\.weight, pooler\.dense\.bias/,
      );
      withPooler.dispose();
    });
  });
});

describe('BertConfig', () => {
  it('fills defaults and keeps given fields', () => {
    const c = validateBertConfig({ ...SMALL_BERT_CONFIG, vocab_size: 8000 });
    expect(c).toMatchObject({
      hidden_size: 256,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      intermediate_size: 1024,
      vocab_size: 8000,
    });
    expect(c.hidden_act).toBe('gelu');
    expect(c.layer_norm_eps).toBe(1e-12);
  });

  it('names the bad field and the valid values', () => {
    expect(() => validateBertConfig({ hidden_size: 30, num_attention_heads: 4 })).toThrow(
      /"hidden_size" \(30\) must be divisible by "num_attention_heads" \(4\)/,
    );
    expect(() => validateBertConfig({ hidden_act: 'tanh' })).toThrow(
      /"hidden_act" must be one of gelu, gelu_new, .*; got "tanh"/,
    );
    expect(() => validateBertConfig({ num_hidden_layers: 0 })).toThrow(
      /"num_hidden_layers" must be a positive integer, got 0/,
    );
    expect(() => validateBertConfig({ vocab_size: 10, pad_token_id: 10 })).toThrow(
      /"pad_token_id" must be an integer in \[0, 10\)/,
    );
    expect(() => validateBertConfig({ position_embedding_type: 'relative_key' } as never, 'x/config.json')).toThrow(
      /^x\/config\.json: "position_embedding_type" must be "absolute"/,
    );
  });

  it('rejects inputs longer than max_position_embeddings', async () => {
    await tf.setBackend('cpu');
    const model = new BertModel(
      validateBertConfig({
        vocab_size: 10,
        hidden_size: 8,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 16,
        max_position_embeddings: 4,
      }),
    );
    const ids = tf.zeros([1, 5], 'int32');
    expect(() => model.forward(ids, tf.onesLike(ids))).toThrow(
      /sequence length 5 exceeds max_position_embeddings \(4\)/,
    );
    tf.dispose(ids);
    model.dispose();
  });
});
