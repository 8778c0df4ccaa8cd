/**
 * Generation behaviour beyond parity: seeded sampling, eos / stop strings, streaming of byte-level
 * pieces (a multi-byte character split across tokens), callbacks, and tensor leaks.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { ParamStore, loadTokenizer, type Linear, type Tokenizer } from '@dalm/core';
import { generate, stream, leftPad, loadCausalLM, KVCache, type CausalLM, type TokenEvent } from '../src/index';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = path.join(path.resolve(repoRoot, '../shared'), 'fixtures/hf-tiny');
const VOCAB = 136;
const EOS = 2;

/**
 * A stand-in model whose logits are one-hot on a fixed script: row r's k-th new token is
 * `scripts[r][k]` (eos after the script). It fills its cache like a real model, so the
 * generation loop's prefill / one-token steps are exercised; its output is known exactly.
 */
function scriptedModel(scripts: number[][], promptLen: number): CausalLM {
  return {
    modelType: 'llama',
    params: new ParamStore(),
    vocabSize: VOCAB,
    numLayers: 1,
    maxPositions: null,
    specialTokens: { bos: 1, eos: [EOS], pad: 0 },
    forward(inputIds, opts = {}) {
      const [b, t] = inputIds.shape;
      const past = opts.cache?.length ?? 0;
      const step = past + t - promptLen;
      const logits = tf.tidy(() => {
        if (opts.cache) opts.cache.update(0, tf.zeros([b, 1, t, 1]), tf.zeros([b, 1, t, 1]));
        const next = scripts.map((s) => s[step] ?? EOS);
        return tf.reshape(tf.oneHot(tf.tensor1d(next, 'int32'), VOCAB), [b, 1, VOCAB]);
      });
      return { logits, cache: opts.cache };
    },
    createCache: () => new KVCache(1),
    linears: () => new Map<string, Linear>(),
    configJson: () => ({}),
    isSavedParam: () => true,
    dispose: () => undefined,
  };
}

describe('leftPad', () => {
  it('left-pads ragged prompts and rejects right padding', () => {
    expect(leftPad([[5, 6, 7], [8]], 0)).toEqual({
      ids: [
        [5, 6, 7],
        [0, 0, 8],
      ],
      mask: [
        [1, 1, 1],
        [0, 0, 1],
      ],
    });
    expect(leftPad([4, 5], 0)).toEqual({ ids: [[4, 5]], mask: [[1, 1]] });
    expect(() => leftPad({ inputIds: [[5, 0]], attentionMask: [[1, 0]] }, 0)).toThrow(/left padding only/);
    expect(() => leftPad([], 0)).toThrow(/empty/);
  });
});

describe.skipIf(!existsSync(fixtures))('generation with the hf-tiny tokenizer', () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    tok = await loadTokenizer(path.join(fixtures, 'llama-tiny'));
  });

  it('stream emits a 4-byte emoji split over 4 tokens only once it is complete', async () => {
    const text = 'Café au lait costs €3.50 😀 ok';
    const script = tok.encode(text, { addSpecialTokens: false });
    // 😀 is four single-byte tokens (ð Ł ĺ Ģ) in this vocabulary.
    expect(script.slice(-6, -2)).toEqual([108, 103, 102, 100]);
    const model = scriptedModel([script], 1);
    const pieces: string[] = [];
    const events: TokenEvent[] = [];
    const it = stream(model, [1], { tokenizer: tok, maxNewTokens: 64, onToken: (e) => events.push(e) });
    let r = await it.next();
    while (!r.done) {
      pieces.push(r.value);
      r = await it.next();
    }
    const result = r.value;
    expect(pieces.join('')).toBe(text);
    expect(result.texts![0]).toBe(text);
    expect(result.newTokens[0]).toEqual(script);
    expect(result.finishReasons[0]).toBe('eos');
    expect(pieces.some((p) => p.includes('\uFFFD'))).toBe(false);
    expect(pieces.some((p) => p.includes('😀'))).toBe(true);
    expect(pieces.length).toBeGreaterThan(5);
    // onToken saw every chosen token, eos included, in order.
    expect(events.map((e) => e.tokenId)).toEqual([...script, EOS]);
    expect(events.map((e) => e.step)).toEqual([...script, EOS].map((_, i) => i));
  });

  it('a stop string ends the row and is cut from the text, also when it spans tokens', async () => {
    const text = 'Hello world! This is a test.';
    const script = tok.encode(text, { addSpecialTokens: false });
    const model = scriptedModel([script], 1);
    // "s is" spans the tokens 's' and 'Ġis'; "is a" is not reached first.
    const out = await generate(model, [1], { tokenizer: tok, maxNewTokens: 64, stopStrings: ['s is', 'is a'] });
    expect(out.texts![0]).toBe('Hello world! Thi');
    expect(out.finishReasons[0]).toBe('stop');
    expect(out.newTokens[0]).toEqual(script.slice(0, script.indexOf(116) + 1)); // up to 'Ġis'
    const pieces: string[] = [];
    for await (const p of stream(model, [1], { tokenizer: tok, maxNewTokens: 64, stopStrings: ['s is'] }))
      pieces.push(p);
    expect(pieces.join('')).toBe('Hello world! Thi');
    // A prefix of a stop string that never completes is emitted in the end.
    const never = [];
    for await (const p of stream(model, [1], { tokenizer: tok, maxNewTokens: 64, stopStrings: ['test!'] }))
      never.push(p);
    expect(never.join('')).toBe(text);
  });

  it('a batch row that ends early is filled with pad, the other keeps going', async () => {
    const model = scriptedModel(
      [
        [10, 11, EOS, 99],
        [20, 21, 22, 23],
      ],
      2,
    );
    const out = await generate(model, [[1, 5], [1]], { maxNewTokens: 4 });
    expect(out.sequences).toEqual([
      [1, 5, 10, 11, EOS, 0],
      [0, 1, 20, 21, 22, 23],
    ]);
    expect(out.newTokens).toEqual([
      [10, 11],
      [20, 21, 22, 23],
    ]);
    expect(out.finishReasons).toEqual(['eos', 'length']);
    // eosTokenId null never stops on a token.
    const noEos = await generate(model, [[1, 5], [1]], { maxNewTokens: 4, eosTokenId: null });
    expect(noEos.newTokens[0]).toEqual([10, 11, EOS, 99]);
  });

  describe('llama-tiny', () => {
    let model: CausalLM;
    const ref = () => JSON.parse(readFileSync(path.join(fixtures, 'llama-tiny/reference.json'), 'utf8'));
    beforeAll(async () => {
      model = await loadCausalLM(path.join(fixtures, 'llama-tiny'));
    });
    afterAll(() => model?.dispose());

    it('decodes greedy output like the HF slow tokenizer, and its stream (with invalid bytes) concatenates to it', async () => {
      const g = ref().generate[1];
      const out = await generate(model, g.inputs.input_ids[0], { maxNewTokens: 12, tokenizer: tok });
      expect(out.newTokens[0]).toEqual(g.new_tokens[0]);
      expect(out.texts![0]).toBe(g.new_text[0]); // '7wL6T\uFFFDo\uFFFD\uFFFDltd'
      const pieces: string[] = [];
      for await (const p of stream(model, g.inputs.input_ids[0], { maxNewTokens: 12, tokenizer: tok })) pieces.push(p);
      expect(pieces.join('')).toBe(g.new_text[0]);
    });

    it('seeded sampling is reproducible; different seeds differ; top-k 1 equals greedy', async () => {
      const g = ref().generate[0];
      const prompt = g.inputs.input_ids[0];
      const opts = { maxNewTokens: 12, temperature: 1.5, topP: 0.95 };
      const a = await generate(model, prompt, { ...opts, seed: 7 });
      const b = await generate(model, prompt, { ...opts, seed: 7 });
      const c = await generate(model, prompt, { ...opts, seed: 8 });
      expect(a.newTokens).toEqual(b.newTokens);
      expect(a.newTokens).not.toEqual(c.newTokens);
      expect(a.newTokens[0]).not.toEqual(g.new_tokens[0]);
      const topK1 = await generate(model, prompt, { maxNewTokens: 12, temperature: 2, topK: 1, seed: 3 });
      expect(topK1.newTokens).toEqual(g.new_tokens);
    });

    it('repeated generate and an abandoned stream leave no tensors behind', async () => {
      const prompt = ref().generate[0].inputs.input_ids[0];
      await generate(model, prompt, { maxNewTokens: 4 });
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        await generate(model, prompt, { maxNewTokens: 6, temperature: 1, seed: i });
        await generate(model, [prompt, prompt.slice(0, 5)], { maxNewTokens: 6 });
        await generate(model, prompt, { maxNewTokens: 3, useCache: false });
      }
      for await (const piece of stream(model, prompt, { maxNewTokens: 12, tokenizer: tok })) {
        if (piece.length > 0) break; // the generator's finally frees the cache
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});
