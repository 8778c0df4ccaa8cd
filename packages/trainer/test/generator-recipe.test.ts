import { describe, it, expect, beforeAll } from 'vitest';
import { initEngine, Rng, trainByteLevelBPE } from '@dalm/core';
import { createCausalLM, DEFAULT_PROMPT_FORMAT, RagPipeline, scoreAnswers, type PassageSearch } from '@dalm/generator';
import { trainGenerator, encodeExample } from '../src/recipes/generator';
import type { GeneratorExample } from '../src/data/raft';

/**
 * A synthetic domain: made-up countries, each with a capital drawn from 12 city names, one passage
 * each. For an unseen country the capital can only be read from the passage.
 */
const CITIES = [
  'Amber',
  'Birch',
  'Cedar',
  'Dune',
  'Ember',
  'Frost',
  'Grove',
  'Harbor',
  'Iris',
  'Jade',
  'Kelp',
  'Lumen',
];

function syntheticDomain(n: number, seed: number) {
  const rng = new Rng(seed);
  const syl = ['ka', 'lo', 'mi', 'ra', 'to', 'ne', 'vu', 'si', 'da', 'po', 'ze', 'bi'];
  const word = (k: number) => {
    let w = '';
    for (let i = 0; i < k; i++) w += syl[rng.int(syl.length)];
    return w[0].toUpperCase() + w.slice(1);
  };
  return Array.from({ length: n }, (_, i) => {
    const country = word(3);
    const capital = CITIES[rng.int(CITIES.length)];
    return {
      id: `d${i}`,
      country,
      capital,
      text: `${country} is a small country. The capital of ${country} is ${capital}. It has many rivers.`,
    };
  });
}

function examples(domain: ReturnType<typeof syntheticDomain>, rng: Rng, withDistractor = true): GeneratorExample[] {
  return domain.map((d, i) => {
    const passages = [{ id: d.id, text: d.text }];
    if (withDistractor) {
      const other = domain[(i + 1 + rng.int(domain.length - 1)) % domain.length];
      passages.push({ id: other.id, text: other.text });
      if (rng.next() < 0.5) passages.reverse();
    }
    return { question: `What is the capital of ${d.country}?`, answer: d.capital, passages, hasGold: true };
  });
}

describe('generator fine-tuning on retrieved context', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
  });

  it('masks the prompt: only answer tokens (and eos) carry loss', () => {
    const domain = syntheticDomain(3, 1);
    const tok = trainByteLevelBPE(
      domain.map((d) => d.text),
      { vocabSize: 300 },
    );
    const model = createCausalLM({
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
    });
    const ex = examples(domain, new Rng(2))[0];
    const e = encodeExample(model, tok, DEFAULT_PROMPT_FORMAT, ex, 256, 16);
    const answerTokens = tok.encode(` ${ex.answer}`, { addSpecialTokens: false });
    expect(e.mask.reduce((a, b) => a + b)).toBe(answerTokens.length + 1); // + eos
    const masked = e.target.filter((_, t) => e.mask[t] === 1);
    expect(masked).toEqual([...answerTokens, tok.special.eos]);
    expect(e.input.length).toBe(e.target.length);
    model.dispose();
  });

  it('learns to answer from the passages: loss falls and held-out exact match rises', async () => {
    const domain = syntheticDomain(140, 3);
    const trainDomain = domain.slice(0, 120);
    const heldDomain = domain.slice(120);
    const tok = trainByteLevelBPE(
      [
        ...domain.map((d) => d.text),
        ...domain.map((d) => `Question: What is the capital of ${d.country}?\nAnswer: ${d.capital}`),
      ],
      { vocabSize: 400 },
    );
    const model = createCausalLM(
      {
        model_type: 'llama',
        vocab_size: tok.vocabSize,
        hidden_size: 64,
        intermediate_size: 128,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        max_position_embeddings: 256,
        tie_word_embeddings: true,
        bos_token_id: tok.special.bos,
        eos_token_id: tok.special.eos,
        pad_token_id: tok.special.pad,
      },
      5,
    );
    const rng = new Rng(4);
    // The gold passage alone: the model must learn to read the capital off the context.
    const trainEx = examples(trainDomain, rng, false);
    const heldEx = examples(heldDomain, rng, false);
    const byQuestion = new Map(heldEx.map((e) => [e.question, e]));
    // The held-out passages come from a stub search: exactly the two passages of each example.
    const search: PassageSearch = {
      search: async (q) => byQuestion.get(q)!.passages.map((p, i) => ({ id: p.id, score: 1 - i, passage: p })),
    };
    const rag = new RagPipeline(model, tok, DEFAULT_PROMPT_FORMAT, search);
    const evaluate = async () => {
      const answers = await rag.askMany(
        heldEx.map((e) => e.question),
        { k: 2, generate: { maxNewTokens: 8 }, batchSize: 20 },
      );
      return scoreAnswers(answers.map((a, i) => ({ prediction: a.answer, references: [heldEx[i].answer] })));
    };
    const before = await evaluate();
    const r = await trainGenerator(model, tok, DEFAULT_PROMPT_FORMAT, trainEx, {
      steps: 200,
      batchSize: 16,
      learningRate: 3e-3,
      warmupSteps: 20,
      maxSeqLength: 256,
      quiet: true,
    });
    const after = await evaluate();
    const first = r.losses.slice(0, 10).reduce((a, b) => a + b) / 10;
    const last = r.losses.slice(-10).reduce((a, b) => a + b) / 10;
    console.log(
      `generator: answer NLL ${first.toFixed(3)} -> ${last.toFixed(3)}; held-out EM ${before.exact_match} -> ${after.exact_match}, F1 ${before.f1.toFixed(3)} -> ${after.f1.toFixed(3)}`,
    );
    expect(last).toBeLessThan(first * 0.3);
    expect(after.exact_match).toBeGreaterThan(before.exact_match + 0.5);
    model.dispose();
  });
});

describe('answer-position logits', () => {
  it('lmLoss over answer positions equals the masked NLL over full logits', async () => {
    const { collateLm, lmLoss } = await import('../src/recipes/generator');
    const { maskedTokenNll } = await import('../src/losses/token-nll');
    const tf = await import('@tensorflow/tfjs');
    const domain = syntheticDomain(4, 9);
    const tok = trainByteLevelBPE(
      domain.map((d) => d.text),
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
    const rows = examples(domain, new Rng(1)).map((ex) =>
      encodeExample(model, tok, DEFAULT_PROMPT_FORMAT, ex, 256, 16),
    );
    const b = collateLm(rows, tok.special.pad!);
    const fast = lmLoss(model, b, false).dataSync()[0];
    const full = maskedTokenNll(
      model.forward(b.inputIds, { attentionMask: b.attentionMask }).logits as never,
      b.targets,
      b.lossMask,
    ).dataSync()[0];
    expect(fast).toBeCloseTo(full, 5);
    expect(b.lossPositions.shape[0]).toBe(rows.reduce((n, r) => n + r.mask.reduce((a, m) => a + m, 0), 0));
    tf.dispose(b as never);
    model.dispose();
  });
});
