/**
 * The bi-encoder around BERT: save → load round trips (HF + sentence-transformers layout),
 * prefixes, bucketed batching, tensor hygiene, error messages, from-scratch creation and training
 * gradients. Uses the bert-tiny fixture (vocab 99, hidden 32) on the cpu backend.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadTokenizer, readSafetensorsWithMetadata, type Tokenizer } from '@dalm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncoder, loadEncoder, type Encoder } from '../src/encoder';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const bertTiny = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny', 'bert-tiny');

const TEXTS = [
  'Hello, world! How are you?',
  'The quick brown fox jumps over the lazy dog.',
  'a cat',
  'My cat sat on the mat; it is a good day.',
  'we love deep learning in new york city',
  'red',
  'what can you do with a small model and a token?',
  'the blue walk',
  'play, run, walk; jump over the green dog and the red fox, then sat on the mat.',
  'is this good?',
  'text',
];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await readFile(file, 'utf8'));
}

/** A scratch copy of the fixture in the OS temp dir (tests that break files never touch the fixture). */
async function copyFixture(tmpRoot: string, name: string): Promise<string> {
  const dir = path.join(tmpRoot, name);
  await mkdir(dir, { recursive: true });
  for (const f of await readdir(bertTiny)) await copyFile(path.join(bertTiny, f), path.join(dir, f));
  return dir;
}

describe.skipIf(!existsSync(bertTiny))('Encoder', () => {
  let tmp: string;
  let enc: Encoder;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    tmp = await mkdtemp(path.join(os.tmpdir(), 'dalm-encoder-'));
    enc = await loadEncoder(bertTiny);
  });
  afterAll(async () => {
    enc?.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  it('returns the same vectors from bucketed batches as one text at a time, in input order', async () => {
    const batched = await enc.embed(TEXTS, { batchSize: 4 });
    expect(batched).toHaveLength(TEXTS.length);
    for (let i = 0; i < TEXTS.length; i++) {
      const [single] = await enc.embed([TEXTS[i]!]);
      expect(batched[i]).toHaveLength(32);
      expect(maxDiff(batched[i]!, single!)).toBeLessThanOrEqual(1e-5);
    }
    // The order really was restored: neighbouring texts give clearly different vectors.
    expect(maxDiff(batched[0]!, batched[1]!)).toBeGreaterThan(1e-2);
    // Normalised by default.
    const norm = Math.hypot(...batched[2]!);
    expect(norm).toBeCloseTo(1, 5);
  });

  it('leaks no tensors across repeated embed and encodeTensor calls', async () => {
    await enc.embed(TEXTS, { batchSize: 3 }); // warm-up
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await enc.embedQueries(TEXTS);
      await enc.embedPassages(TEXTS.slice(0, 5));
      enc.encodeTensor(TEXTS.slice(0, 4)).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('truncates to maxLength and keeps the final [SEP]', async () => {
    const short = await loadEncoder(bertTiny, { maxLength: 6 });
    try {
      const [row] = short.tokenize(['The quick brown fox jumps over the lazy dog.']);
      // full ids: [2,16,31,32,33,34,80,35,16,36,37,12,3] → first 5 + [SEP]
      expect(row).toEqual([2, 16, 31, 32, 33, 3]);
      const [a] = await short.embed(['The quick brown fox jumps over the lazy dog.']);
      const [b] = await short.embed(['the quick brown fox']);
      expect(maxDiff(a!, b!)).toBeLessThanOrEqual(1e-6);
    } finally {
      short.dispose();
    }
  });

  it('applies query/passage prefixes, and persists them', async () => {
    const prefixed = await loadEncoder(bertTiny, { queryPrefix: 'query: ', passagePrefix: 'text: ' });
    try {
      const text = 'the quick brown fox';
      const [q] = await prefixed.embedQueries([text]);
      const [p] = await prefixed.embedPassages([text]);
      const [plain] = await enc.embedQueries([text]);
      expect(maxDiff(q!, p!)).toBeGreaterThan(1e-2);
      expect(maxDiff(q!, plain!)).toBeGreaterThan(1e-2);
      // A prefix is exactly text prepended before tokenising.
      const [manual] = await enc.embed(['query: ' + text]);
      expect(maxDiff(q!, manual!)).toBeLessThanOrEqual(1e-6);
      expect(prefixed.tokenize([text], 'passage')[0]).toEqual([2, 57, 13, 16, 31, 32, 33, 3]);

      const dir = path.join(tmp, 'prefixed');
      await prefixed.save(dir);
      expect(await readJson(path.join(dir, 'config_sentence_transformers.json'))).toEqual({
        prompts: { query: 'query: ', document: 'text: ' },
        default_prompt_name: null,
        similarity_fn_name: 'cosine',
      });
      const reloaded = await loadEncoder(dir);
      try {
        expect(reloaded.settings).toEqual(prefixed.settings);
        expect(reloaded.fingerprint).toBe(prefixed.fingerprint);
        const [q2] = await reloaded.embedQueries([text]);
        const [p2] = await reloaded.embedPassages([text]);
        expect(maxDiff(q!, q2!)).toBe(0);
        expect(maxDiff(p!, p2!)).toBe(0);
      } finally {
        reloaded.dispose();
      }
      // Settings are part of the fingerprint: same weights, other prefixes, other vectors.
      expect(prefixed.fingerprint).not.toBe(enc.fingerprint);
    } finally {
      prefixed.dispose();
    }
  });

  it('saves an HF + sentence-transformers directory that loads back to identical embeddings', async () => {
    const custom = await loadEncoder(bertTiny, { pooling: 'cls', normalize: false, maxLength: 32 });
    const dir = path.join(tmp, 'saved');
    try {
      await custom.save(dir);
      expect((await readdir(dir)).sort()).toEqual([
        '1_Pooling',
        'config.json',
        'config_sentence_transformers.json',
        'model.safetensors',
        'modules.json',
        'sentence_bert_config.json',
        'special_tokens_map.json',
        'tokenizer.json',
        'tokenizer_config.json',
      ]);
      const config = (await readJson(path.join(dir, 'config.json'))) as Record<string, unknown>;
      expect(config).toMatchObject({
        model_type: 'bert',
        architectures: ['BertModel'],
        vocab_size: 99,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 37,
        hidden_act: 'gelu',
        max_position_embeddings: 64,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
        pad_token_id: 0,
      });
      expect(await readJson(path.join(dir, 'modules.json'))).toEqual([
        { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
        { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      ]);
      expect(await readJson(path.join(dir, '1_Pooling', 'config.json'))).toEqual({
        word_embedding_dimension: 32,
        pooling_mode_cls_token: true,
        pooling_mode_mean_tokens: false,
        pooling_mode_max_tokens: false,
        pooling_mode_mean_sqrt_len_tokens: false,
        pooling_mode_weightedmean_tokens: false,
        pooling_mode_lasttoken: false,
        include_prompt: true,
      });
      expect(await readJson(path.join(dir, 'sentence_bert_config.json'))).toEqual({
        max_seq_length: 32,
        do_lower_case: false,
      });

      // Weights: the fixture's tensor names, F32, {format: pt}, and the same values.
      const { tensors, metadata } = await readSafetensorsWithMetadata(path.join(dir, 'model.safetensors'));
      const original = await readSafetensorsWithMetadata(path.join(bertTiny, 'model.safetensors'));
      expect(metadata).toEqual({ format: 'pt' });
      expect([...tensors.keys()].sort()).toEqual([...original.tensors.keys()].sort());
      for (const [name, t] of tensors) {
        const o = original.tensors.get(name)!;
        expect(t.dtype).toBe('F32');
        expect(t.shape).toEqual(o.shape);
        expect(maxDiff(t.data, o.data)).toBe(0);
      }
      expect(await readJson(path.join(dir, 'tokenizer.json'))).toEqual(
        await readJson(path.join(bertTiny, 'tokenizer.json')),
      );

      const reloaded = await loadEncoder(dir);
      try {
        expect(reloaded.settings).toEqual(custom.settings);
        expect(reloaded.settings).toMatchObject({ pooling: 'cls', normalize: false, maxLength: 32 });
        expect(reloaded.fingerprint).toBe(custom.fingerprint);
        const a = await custom.embedPassages(TEXTS);
        const b = await reloaded.embedPassages(TEXTS);
        for (let i = 0; i < TEXTS.length; i++) expect(maxDiff(a[i]!, b[i]!)).toBe(0);
      } finally {
        reloaded.dispose();
      }
    } finally {
      custom.dispose();
    }
  });

  it('writes the Normalize module when normalising, and reads max pooling back', async () => {
    const maxEnc = await loadEncoder(bertTiny, { pooling: 'max' });
    const dir = path.join(tmp, 'max');
    try {
      await maxEnc.save(dir);
      expect(await readJson(path.join(dir, 'modules.json'))).toEqual([
        { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
        { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
        { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
      ]);
      const reloaded = await loadEncoder(dir);
      expect(reloaded.settings).toMatchObject({ pooling: 'max', normalize: true });
      reloaded.dispose();
    } finally {
      maxEnc.dispose();
    }
  });

  it('gives clear errors naming the file for a malformed config, missing weights and bad module files', async () => {
    const badConfig = await copyFixture(tmp, 'bad-config');
    await writeFile(path.join(badConfig, 'config.json'), '{"hidden_size": 32,');
    await expect(loadEncoder(badConfig)).rejects.toThrow(`${path.join(badConfig, 'config.json')}: malformed JSON`);

    await writeFile(
      path.join(badConfig, 'config.json'),
      JSON.stringify({
        model_type: 'bert',
        vocab_size: 1124,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 5,
        intermediate_size: 37,
      }),
    );
    await expect(loadEncoder(badConfig)).rejects.toThrow(
      `${path.join(badConfig, 'config.json')}: "hidden_size" (32) must be divisible by "num_attention_heads" (5)`,
    );

    await writeFile(path.join(badConfig, 'config.json'), JSON.stringify({ model_type: 'gpt2' }));
    await expect(loadEncoder(badConfig)).rejects.toThrow(
      /config\.json: "model_type" is "gpt2"; this encoder loads "bert" models/,
    );

    const noWeights = await copyFixture(tmp, 'no-weights');
    await rm(path.join(noWeights, 'model.safetensors'));
    await expect(loadEncoder(noWeights)).rejects.toThrow(
      `${path.join(noWeights, 'model.safetensors')}: cannot open safetensors file (ENOENT)`,
    );

    const wrongShape = await copyFixture(tmp, 'wrong-shape');
    const cfg = JSON.parse(await readFile(path.join(wrongShape, 'config.json'), 'utf8'));
    await writeFile(path.join(wrongShape, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 40 }));
    await expect(loadEncoder(wrongShape)).rejects.toThrow(
      /wrong-shape\/model\.safetensors: tensor "encoder\.layer\.0\.intermediate\.dense\.bias" has shape \[37\], the model expects \[40\]/,
    );

    const dense = await copyFixture(tmp, 'dense-module');
    const TRANSFORMER = { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' };
    const POOLING = { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' };
    await writeFile(
      path.join(dense, 'modules.json'),
      JSON.stringify([
        TRANSFORMER,
        POOLING,
        { idx: 2, name: '2', path: '2_LSTM', type: 'sentence_transformers.models.LSTM' },
      ]),
    );
    await expect(loadEncoder(dense)).rejects.toThrow(
      /modules\.json: module type "sentence_transformers\.models\.LSTM" is not supported/,
    );

    await writeFile(
      path.join(dense, 'modules.json'),
      JSON.stringify([
        TRANSFORMER,
        POOLING,
        { idx: 2, name: '2', path: '2_Dense', type: 'sentence_transformers.models.Dense' },
      ]),
    );
    await mkdir(path.join(dense, '1_Pooling'));
    await writeFile(
      path.join(dense, '1_Pooling', 'config.json'),
      JSON.stringify({ word_embedding_dimension: 32, pooling_mode_cls_token: true }),
    );
    await expect(loadEncoder(dense)).rejects.toThrow(
      /2_Dense\/config\.json: file not found \(modules\.json lists a Dense module there\)/,
    );
    await mkdir(path.join(dense, '2_Dense'));
    const denseCfg = {
      in_features: 32,
      out_features: 8,
      bias: true,
      activation_function: 'torch.nn.modules.activation.Softplus',
    };
    await writeFile(path.join(dense, '2_Dense', 'config.json'), JSON.stringify(denseCfg));
    await expect(loadEncoder(dense)).rejects.toThrow(
      /2_Dense\/config\.json: activation_function "torch\.nn\.modules\.activation\.Softplus" is not supported/,
    );
    await writeFile(
      path.join(dense, '2_Dense', 'config.json'),
      JSON.stringify({ ...denseCfg, activation_function: 'torch.nn.modules.activation.Tanh', in_features: 16 }),
    );
    await expect(loadEncoder(dense)).rejects.toThrow(
      /2_Dense\/config\.json: "in_features" is 16 but the module before it gives 32-wide vectors/,
    );
    await writeFile(
      path.join(dense, '2_Dense', 'config.json'),
      JSON.stringify({ ...denseCfg, activation_function: 'torch.nn.modules.activation.Tanh' }),
    );
    await writeFile(path.join(dense, '2_Dense', 'pytorch_model.bin'), 'not read');
    await expect(loadEncoder(dense)).rejects.toThrow(
      /2_Dense\/pytorch_model\.bin: PyTorch pickle weights are not read \(only model\.safetensors\)/,
    );

    await writeFile(path.join(dense, 'modules.json'), JSON.stringify([POOLING]));
    await expect(loadEncoder(dense)).rejects.toThrow(
      /modules\.json: modules Pooling are not supported \(expected Transformer → Pooling → \[Dense …\] → \[Normalize\]/,
    );
    await writeFile(
      path.join(dense, 'modules.json'),
      JSON.stringify([
        TRANSFORMER,
        POOLING,
        { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
        { idx: 3, name: '3', path: '2_Dense', type: 'sentence_transformers.models.Dense' },
      ]),
    );
    await expect(loadEncoder(dense)).rejects.toThrow(/Normalize must be last/);
    await writeFile(path.join(dense, 'modules.json'), JSON.stringify([TRANSFORMER, POOLING]));
    await writeFile(path.join(dense, '1_Pooling', 'config.json'), JSON.stringify({ pooling_mode: 'sum' }));
    await expect(loadEncoder(dense)).rejects.toThrow(
      /1_Pooling\/config\.json: pooling mode "sum" is not supported \(valid: cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken\)/,
    );
    await writeFile(
      path.join(dense, '1_Pooling', 'config.json'),
      JSON.stringify({ word_embedding_dimension: 64, pooling_mode_mean_tokens: true }),
    );
    await expect(loadEncoder(dense)).rejects.toThrow(
      /1_Pooling\/config\.json: the pooling width \(64\) differs from the transformer's hidden_size \(32/,
    );
    await writeFile(path.join(dense, '1_Pooling', 'config.json'), JSON.stringify({ pooling_mode_mean_tokens: true }));
    await writeFile(
      path.join(dense, 'sentence_bert_config.json'),
      JSON.stringify({ max_seq_length: 32, transformer_task: 'text-generation' }),
    );
    await expect(loadEncoder(dense)).rejects.toThrow(
      /sentence_bert_config\.json: "transformer_task" "text-generation" is not supported/,
    );
    await writeFile(
      path.join(dense, 'sentence_bert_config.json'),
      JSON.stringify({ max_seq_length: 32, model_args: { rope_scaling: 2 } }),
    );
    await expect(loadEncoder(dense)).rejects.toThrow(
      /sentence_bert_config\.json: model_args\.rope_scaling is not supported/,
    );
    await writeFile(path.join(dense, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: 32 }));
    await writeFile(
      path.join(dense, 'config_sentence_transformers.json'),
      JSON.stringify({ prompts: { query: 'q: ' }, default_prompt_name: 'doc' }),
    );
    await expect(loadEncoder(dense)).rejects.toThrow(
      /config_sentence_transformers\.json: "default_prompt_name" "doc" is not one of the prompts \(query\)/,
    );
    await writeFile(
      path.join(dense, 'config_sentence_transformers.json'),
      JSON.stringify({ similarity_fn_name: 'manhattan' }),
    );
    await expect(loadEncoder(dense)).rejects.toThrow(
      /config_sentence_transformers\.json: "similarity_fn_name" "manhattan" is not supported/,
    );

    const tooLong = await copyFixture(tmp, 'too-long');
    await writeFile(
      path.join(tooLong, 'sentence_bert_config.json'),
      JSON.stringify({ max_seq_length: 128, do_lower_case: false }),
    );
    await expect(loadEncoder(tooLong)).rejects.toThrow(
      /"maxLength" \(128\) exceeds the model's max_position_embeddings \(64\)/,
    );
  });

  describe('from scratch', () => {
    let tokenizer: Tokenizer;
    beforeAll(async () => {
      tokenizer = await loadTokenizer(bertTiny);
    });

    const small = {
      hidden_size: 16,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 24,
      max_position_embeddings: 32,
    };

    it('initialises as HF does: normal(0, 0.02), zero padding row, LayerNorm ones/zeros, zero biases', () => {
      const e = createEncoder({ config: { ...small, hidden_size: 64, num_attention_heads: 4 }, tokenizer, seed: 3 });
      try {
        expect(e.config.vocab_size).toBe(99); // from the tokenizer
        expect(e.settings).toMatchObject({ pooling: 'mean', normalize: true, maxLength: 32 });
        const words = e.params.get('embeddings.word_embeddings.weight').arraySync() as number[][];
        expect(words[0]!.every((v) => v === 0)).toBe(true); // [PAD] row
        const rest = words.slice(1).flat();
        const mean = rest.reduce((s, v) => s + v, 0) / rest.length;
        const std = Math.sqrt(rest.reduce((s, v) => s + (v - mean) ** 2, 0) / rest.length);
        expect(Math.abs(mean)).toBeLessThan(0.002);
        expect(std).toBeGreaterThan(0.018);
        expect(std).toBeLessThan(0.022);
        expect(
          e.params
            .get('encoder.layer.1.output.LayerNorm.weight')
            .dataSync()
            .every((v) => v === 1),
        ).toBe(true);
        expect(
          e.params
            .get('encoder.layer.1.output.LayerNorm.bias')
            .dataSync()
            .every((v) => v === 0),
        ).toBe(true);
        expect(
          e.params
            .get('encoder.layer.0.attention.self.query.bias')
            .dataSync()
            .every((v) => v === 0),
        ).toBe(true);
      } finally {
        e.dispose();
      }
    });

    it('is deterministic per seed, and follows weight changes through params.version', async () => {
      const a = createEncoder({ config: small, tokenizer, seed: 1 });
      const b = createEncoder({ config: small, tokenizer, seed: 1 });
      const c = createEncoder({ config: small, tokenizer, seed: 2 });
      try {
        expect(a.fingerprint).toMatch(/^[0-9a-f]{16}$/);
        expect(b.fingerprint).toBe(a.fingerprint);
        expect(c.fingerprint).not.toBe(a.fingerprint);
        const before = a.fingerprint;
        const w = a.params.get('encoder.layer.0.output.dense.bias');
        const v0 = a.params.version;
        tf.tidy(() => w.assign(tf.add(w, 0.01))); // a raw assign: the store cannot see it
        expect(a.fingerprint).toBe(before);
        a.params.markChanged(); // what the training loop does after every optimizer step
        expect(a.params.version).toBe(v0 + 1);
        const changed = a.fingerprint;
        expect(changed).not.toBe(before);
        expect(await a.ensureFingerprint()).toBe(changed); // async read of the same weights: same hash
        expect(await a.refreshFingerprint()).toBe(changed);
        tf.tidy(() => w.assign(tf.sub(w, 0.01)));
        a.params.markChanged();
        expect(await a.ensureFingerprint()).toBe(b.fingerprint); // the same weights hash the same, read async or sync
        // loadHost bumps the version itself: c's weights loaded into a give c's fingerprint.
        a.params.loadHost(c.params.toHost());
        expect(a.fingerprint).toBe(c.fingerprint);
      } finally {
        a.dispose();
        b.dispose();
        c.dispose();
      }
    });

    it('trains: encodeTensor under tf.variableGrads gives gradients, dropout only when training', () => {
      const e = createEncoder({ config: { ...small, hidden_dropout_prob: 0.3 }, tokenizer, seed: 5 });
      try {
        const queries = ['what is a cat', 'the lazy dog'];
        const passages = ['a cat sat on the mat', 'the dog is lazy'];
        const before = tf.memory().numTensors;
        const { value, grads } = tf.variableGrads(() =>
          tf.tidy(() => {
            const q = e.encodeTensor(queries, { kind: 'query', training: true }); // [2, 16]
            const p = e.encodeTensor(passages, { kind: 'passage', training: true }); // [2, 16]
            const scores = tf.mul(tf.matMul(q, p, false, true), 20); // [2, 2]
            return tf.losses.softmaxCrossEntropy(tf.oneHot([0, 1], 2), scores) as tf.Scalar;
          }),
        );
        expect(Number.isFinite(value.dataSync()[0]!)).toBe(true);
        const names = Object.keys(grads);
        expect(names.length).toBeGreaterThan(0);
        const query = e.params.get('encoder.layer.1.attention.self.query.weight');
        const g = grads[query.name]!;
        expect(g.shape).toEqual([16, 16]);
        expect(tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]!)).toBeGreaterThan(0);
        tf.dispose([value, ...Object.values(grads)]);
        expect(tf.memory().numTensors).toBe(before);

        const eval1 = tf.tidy(() => e.encodeTensor(queries).arraySync());
        const eval2 = tf.tidy(() => e.encodeTensor(queries).arraySync());
        const train = tf.tidy(() => e.encodeTensor(queries, { training: true }).arraySync());
        expect(eval2).toEqual(eval1);
        expect(train).not.toEqual(eval1);
      } finally {
        e.dispose();
      }
    });

    it('rejects a tokenizer larger than the vocabulary', () => {
      expect(() => createEncoder({ config: { ...small, vocab_size: 50 }, tokenizer })).toThrow(
        /the tokenizer has 99 ids but the model's vocab_size is 50/,
      );
    });
  });
});
