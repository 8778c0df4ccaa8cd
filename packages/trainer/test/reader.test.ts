import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initEngine, trainByteLevelBPE } from '@dalm/core';
import { createCausalLM, type PassageSearch } from '@dalm/generator';
import type { Passage } from '@dalm/retriever';
import { collateLm, encodeExample, lmLoss } from '../src/recipes/generator';
import { buildRaftExamples, swapAnswer } from '../src/data/raft';
import { maskedTokenNll } from '../src/losses/token-nll';
import { loadWordnetDomain } from '../src/data/wordnet';
import { SCRATCH_READER_RECIPE } from '../src/pipeline/presets';
import type { QaExample } from '../src/data/qa';

/** A search that returns exactly the gold passage of each question (reading, isolated from retrieval). */
function goldSearch(qs: readonly QaExample[], byId: ReadonlyMap<string, Passage>): PassageSearch {
  const byQuestion = new Map(qs.map((q) => [q.question, byId.get(q.positiveIds![0])!]));
  return { search: async (q) => [{ id: byQuestion.get(q)!.id, score: 1, passage: byQuestion.get(q)! }] };
}

describe('counterfactual RAFT examples', () => {
  it('swaps whole-word answers only, case-insensitively', () => {
    expect(swapAnswer('Gouda (also Gouda cheese) is a kind of cheese. Cheesecake, Cheese.', 'cheese', 'stew')).toBe(
      'Gouda (also Gouda stew) is a kind of stew. Cheesecake, stew.',
    );
    expect(swapAnswer('a kind of bun.', 'cheese', 'stew')).toBeNull();
    expect(swapAnswer('made of rice (white).', 'rice (white)', 'x')).toBe('made of x.');
  });

  it('makes the requested share counterfactual: the new answer is written in the gold passage, the old one is gone', async () => {
    const wn = await loadWordnetDomain('noun.food');
    const qs = wn.questions.slice(0, 400);
    const byId = new Map(
      wn.documents.map((d) => [
        d.id,
        { id: d.id, text: d.text, title: d.title, source: d.id, start: 0, end: d.text.length },
      ]),
    );
    const ex = await buildRaftExamples(qs, goldSearch(qs, byId) as never, byId, {
      k: 1,
      goldShare: 1,
      counterfactualShare: 0.5,
      seed: 3,
    });
    const cf = ex.filter((e) => e.counterfactual);
    expect(cf.length / ex.length).toBeGreaterThan(0.4);
    expect(cf.length / ex.length).toBeLessThan(0.6);
    ex.forEach((e, i) => {
      const text = e.passages[0].text.toLowerCase();
      expect(text).toContain(e.answer.toLowerCase());
      if (e.counterfactual) {
        expect(e.answer).not.toBe(qs[i].answers[0]);
        expect(text).not.toMatch(new RegExp(`\\bis a kind of ${qs[i].answers[0].replace(/[()]/g, '.')}\\.`));
      } else expect(e.answer).toBe(qs[i].answers[0]);
    });
    await expect(
      buildRaftExamples(qs, goldSearch(qs, byId) as never, byId, { counterfactualShare: 2 }),
    ).rejects.toThrow(/counterfactualShare must be in \[0, 1\]/);
  });
});

describe('prompt-token LM loss', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
  });

  it('equals mean answer NLL + w · mean prompt NLL over the full logits', async () => {
    const wn = await loadWordnetDomain('noun.food');
    const docs = wn.documents.slice(0, 6);
    const tok = trainByteLevelBPE(
      docs.map((d) => d.text),
      { vocabSize: 300 },
    );
    const model = createCausalLM(
      {
        model_type: 'llama',
        vocab_size: tok.vocabSize,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 1,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        bos_token_id: tok.special.bos,
        eos_token_id: tok.special.eos,
        pad_token_id: tok.special.pad,
        max_position_embeddings: 256,
      },
      3,
    );
    const rows = docs.map((d) =>
      encodeExample(
        model,
        tok,
        SCRATCH_READER_RECIPE.format,
        {
          question: `What is ${d.title} a kind of?`,
          answer: 'food',
          passages: [{ id: d.id, text: d.text }],
          hasGold: true,
        },
        128,
        16,
      ),
    );
    const w = 0.7;
    const b = collateLm(rows, tok.special.pad!, w);
    const got = lmLoss(model, b, false).dataSync()[0];
    // Independent: full logits, two masks (answer tokens; prompt tokens = real tokens that are not answer).
    const want = tf.tidy(() => {
      const logits = model.forward(b.inputIds, { attentionMask: b.attentionMask }).logits as tf.Tensor3D;
      const promptMask = tf.sub(tf.cast(b.attentionMask, 'float32'), b.lossMask) as tf.Tensor2D;
      return (
        maskedTokenNll(logits, b.targets, b.lossMask).dataSync()[0] +
        w * maskedTokenNll(logits, b.targets, promptMask).dataSync()[0]
      );
    });
    expect(got).toBeCloseTo(want, 4);
    expect(b.lossPositions.shape[0]).toBe(rows.reduce((n, r) => n + r.input.length, 0));
    tf.dispose(b as never);
    model.dispose();
  });
});
