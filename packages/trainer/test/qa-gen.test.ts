import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { initEngine, ParamStore, trainByteLevelBPE, type Tokenizer } from '@dalm/core';
import { createCausalLM, KVCache, type CausalLM, type CausalLMForwardOptions } from '@dalm/generator';
import { loadCovidQaDataset, type Passage } from '@dalm/retriever';
import {
  DEFAULT_QUESTION_PROMPT,
  clozeQuestions,
  generateQuestions,
  parseGeneratedQa,
  questionPromptIds,
  questionsFromOutputs,
  splitByDocument,
} from '../src/data/qa-gen';
import { clozeOfSentence } from '../src/data/cloze';

const covid = path.join(path.resolve(__dirname, '../../../../shared'), 'bench/covidqa');

const passage = (id: string, text: string, source = `doc-${id}`): Passage => ({
  id,
  text,
  source,
  start: 0,
  end: text.length,
});

describe('parseGeneratedQa', () => {
  it('reads "Question: … Answer: …" with or without the question label', () => {
    expect(parseGeneratedQa(' What is the capital of Kalomi?\nAnswer: Amber\n')).toEqual({
      question: 'What is the capital of Kalomi?',
      answer: 'Amber',
    });
    expect(
      parseGeneratedQa('Some preamble.\nQuestion: Who wrote the report?\nAnswer: "Jane Doe".\nQuestion: And then?'),
    ).toEqual({
      question: 'Who wrote the report?',
      answer: 'Jane Doe',
    });
    expect(parseGeneratedQa('question:  How long  is the incubation period? answer: 5 days')).toEqual({
      question: 'How long is the incubation period?',
      answer: '5 days',
    });
  });

  it('rejects malformed outputs with a reason', () => {
    expect(parseGeneratedQa('The passage is about capitals.')).toEqual({ rejected: 'no_answer_label' });
    expect(parseGeneratedQa(' Answer: Amber')).toEqual({ rejected: 'empty_question' });
    expect(parseGeneratedQa(' Capital?\nAnswer: Amber')).toEqual({ rejected: 'short_question' });
    expect(parseGeneratedQa(' What is the capital of Kalomi\nAnswer: Amber')).toEqual({ rejected: 'no_question_mark' });
    expect(parseGeneratedQa(' What is the capital of Kalomi\nAnswer: Amber', { requireQuestionMark: false })).toEqual({
      question: 'What is the capital of Kalomi',
      answer: 'Amber',
    });
    expect(parseGeneratedQa(' What is the capital of Kalomi?\nAnswer:  \n')).toEqual({ rejected: 'empty_answer' });
    expect(parseGeneratedQa(` What is it?\nAnswer: ${'word '.repeat(31)}`)).toEqual({ rejected: 'long_answer' });
  });
});

describe('questionsFromOutputs (filters)', () => {
  it('keeps grounded, non-leaking, new questions and counts every rejection', () => {
    const p = passage('p0', 'The capital of Kalomi is Amber. It has many rivers.');
    const q = passage('q0', 'Ravu exports glass and salt.');
    const r = questionsFromOutputs([
      { passage: p, output: ' What is the capital of Kalomi?\nAnswer: Amber.' }, // kept (verbatim)
      { passage: p, output: ' What does Kalomi have?\nAnswer: Kalomi has many rivers' }, // kept: F1 0.75 with "It has many rivers."
      { passage: p, output: ' What is the capital of Kalomi?\nAnswer: Birch' }, // not in the passage
      { passage: p, output: ' Which city starts with Amb?\nAnswer: Amb' }, // a word fragment is not a verbatim match
      { passage: p, output: ' Is Amber the capital of Kalomi?\nAnswer: Amber' }, // answer leaked into the question
      { passage: p, output: ' what is the capital of kalomi ?\nAnswer: Amber' }, // duplicate after normalisation
      { passage: q, output: ' What does Ravu export?\nAnswer: glass and salt' }, // kept
      { passage: q, output: 'no labels here' }, // malformed
    ]);
    expect(r.examples).toEqual([
      {
        id: 'p0#q0',
        question: 'What is the capital of Kalomi?',
        answers: ['Amber'],
        positiveIds: ['p0'],
        documentId: 'doc-p0',
      },
      {
        id: 'p0#q1',
        question: 'What does Kalomi have?',
        answers: ['Kalomi has many rivers'],
        positiveIds: ['p0'],
        documentId: 'doc-p0',
      },
      {
        id: 'q0#q0',
        question: 'What does Ravu export?',
        answers: ['glass and salt'],
        positiveIds: ['q0'],
        documentId: 'doc-q0',
      },
    ]);
    expect(r.generated).toBe(8);
    expect(r.rejected).toEqual({ answer_not_in_passage: 2, answer_in_question: 1, duplicate: 1, no_answer_label: 1 });
  });

  it('the F1 threshold decides for answers that are not verbatim', () => {
    const p = passage('p0', 'The capital of Kalomi is Amber. It has many rivers.');
    const out = [{ passage: p, output: ' What does Kalomi have?\nAnswer: Kalomi has many rivers' }];
    expect(questionsFromOutputs(out, { minAnswerF1: 0.75 }).examples).toHaveLength(1);
    expect(questionsFromOutputs(out, { minAnswerF1: 0.76 }).rejected).toEqual({ answer_not_in_passage: 1 });
  });
});

/**
 * A stub decoder whose output is exactly known: for a prompt containing passage text X it emits
 * `scripts.get(X)` token by token, then eos. It records the decoded prompts it was given.
 */
function scriptedDecoder(tok: Tokenizer, scripts: Map<string, string>): { model: CausalLM; prompts: string[] } {
  const eos = tok.special.eos!;
  const V = tok.vocabSize;
  const prompts: string[] = [];
  const state = new WeakMap<KVCache, { rows: number[][]; step: number }>();
  const model = {
    modelType: 'llama',
    params: new ParamStore(),
    vocabSize: V,
    numLayers: 1,
    maxPositions: 512,
    specialTokens: { bos: tok.special.bos, eos: [eos], pad: tok.special.pad },
    createCache: () => new KVCache(1),
    forward(inputIds: tf.Tensor, opts: CausalLMForwardOptions = {}) {
      const cache = opts.cache!;
      const [b, t] = inputIds.shape as [number, number];
      if (cache.length === 0) {
        const ids = inputIds.arraySync() as number[][];
        const mask = opts.attentionMask!.arraySync() as number[][];
        const rows = ids.map((row, i) => {
          const text = tok.decode(
            row.filter((_, j) => mask[i]![j] === 1),
            { skipSpecialTokens: true },
          );
          prompts.push(text);
          const hit = [...scripts.keys()].find((x) => text.includes(x));
          if (hit === undefined) throw new Error(`stub decoder: no script for prompt ${JSON.stringify(text)}`);
          return [...tok.encode(scripts.get(hit)!, { addSpecialTokens: false }), eos];
        });
        state.set(cache, { rows, step: 0 });
      }
      const s = state.get(cache)!;
      tf.tidy(() => {
        const z = tf.zeros([b, 1, t, 1]);
        cache.update(0, z, z);
      });
      const logits = new Float32Array(b * V);
      s.rows.forEach((row, i) => (logits[i * V + (row[s.step] ?? eos)] = 10));
      s.step++;
      return { logits: tf.tensor3d(logits, [b, 1, V]), cache };
    },
    linears: () => new Map(),
    configJson: () => ({}),
    isSavedParam: () => false,
    dispose: () => {},
  };
  return { model: model as unknown as CausalLM, prompts };
}

describe('generateQuestions', () => {
  let tok: Tokenizer;
  const passages = [
    passage('p0', 'The capital of Kalomi is Amber. It has many rivers.'),
    passage('p1', 'Ravu exports glass and salt to its neighbours.'),
    passage('p2', 'Tosine is famous for its bridges.'),
  ];
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    tok = trainByteLevelBPE(
      [DEFAULT_QUESTION_PROMPT, ...passages.map((p) => p.text), 'What is the capital? Answer: Amber'],
      { vocabSize: 300 },
    );
  });

  it('prompts with the filled template and keeps exactly the outputs that pass the filters (stub decoder)', async () => {
    const scripts = new Map([
      [passages[0]!.text, ' What is the capital of Kalomi?\nAnswer: Amber'],
      [passages[1]!.text, ' I do not know.'],
      [passages[2]!.text, ' What is Tosine famous for?\nAnswer: Tosine'],
    ]);
    const { model, prompts } = scriptedDecoder(tok, scripts);
    const r = await generateQuestions(model, tok, passages, { perPassage: 2, batchSize: 4 });
    expect(prompts).toHaveLength(6);
    expect(prompts[0]).toBe(DEFAULT_QUESTION_PROMPT.replace('{passage}', passages[0]!.text));
    expect(r.generated).toBe(6);
    expect(r.examples).toEqual([
      {
        id: 'p0#q0',
        question: 'What is the capital of Kalomi?',
        answers: ['Amber'],
        positiveIds: ['p0'],
        documentId: 'doc-p0',
      },
    ]);
    expect(r.rejected).toEqual({ duplicate: 1, no_answer_label: 2, answer_in_question: 2 });
  });

  it('cuts the passage, never the template, to fit maxPromptTokens', () => {
    const full = questionPromptIds(tok, 'Passage: {passage}\nQuestion:', passages[0]!, 1000, tok.special.bos!);
    const cut = questionPromptIds(
      tok,
      'Passage: {passage}\nQuestion:',
      passages[0]!,
      full.length - 3,
      tok.special.bos!,
    );
    expect(cut).toHaveLength(full.length - 3);
    expect(tok.decode(cut, { skipSpecialTokens: true }).endsWith('\nQuestion:')).toBe(true);
    expect(() => questionPromptIds(tok, 'Passage: {passage}\nQuestion:', passages[0]!, 4)).toThrow(
      /template alone needs/,
    );
  });

  it('runs with a real (random) decoder: every sample is either kept or counted as rejected', async () => {
    const model = createCausalLM(
      {
        model_type: 'llama',
        vocab_size: tok.vocabSize,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 1,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        max_position_embeddings: 256,
        bos_token_id: tok.special.bos,
        eos_token_id: tok.special.eos,
        pad_token_id: tok.special.pad,
      },
      3,
    );
    const r = await generateQuestions(model, tok, passages, {
      perPassage: 2,
      maxNewTokens: 8,
      temperature: 1,
      seed: 5,
    });
    const rejected = Object.values(r.rejected).reduce((a, b) => a + b, 0);
    expect(r.generated).toBe(6);
    expect(r.examples.length + rejected).toBe(6);
    model.dispose();
  });

  it('names the bad option', async () => {
    const { model } = scriptedDecoder(tok, new Map());
    await expect(generateQuestions(model, tok, passages, { promptTemplate: 'no slot' })).rejects.toThrow(
      /promptTemplate must contain \{passage\}/,
    );
    await expect(generateQuestions(model, tok, passages, { perPassage: 0 })).rejects.toThrow(
      /perPassage must be an integer >= 1/,
    );
  });
});

describe('splitByDocument', () => {
  const items = Array.from({ length: 30 }, (_, i) => passage(`p${i}`, `text ${i}`, `doc${i % 10}`));

  it('puts every document on one side only, with round(evalShare · documents) held out', () => {
    const { train, eval: held } = splitByDocument(items, { evalShare: 0.2, seed: 3 });
    const trainSources = new Set(train.map((p) => p.source));
    const evalSources = new Set(held.map((p) => p.source));
    expect(evalSources.size).toBe(2);
    expect(trainSources.size).toBe(8);
    for (const s of evalSources) expect(trainSources.has(s)).toBe(false);
    expect(train.length + held.length).toBe(30);
    expect(held.length).toBe(6); // 3 passages per document
    // Item order is kept, and the split is reproducible.
    expect(train.map((p) => Number(p.id.slice(1)))).toEqual(
      [...train.map((p) => Number(p.id.slice(1)))].sort((a, b) => a - b),
    );
    expect(splitByDocument(items, { evalShare: 0.2, seed: 3 }).eval).toEqual(held);
  });

  it('holds out at least one and at most all but one document, and checks its options', () => {
    expect(new Set(splitByDocument(items, { evalShare: 0.01 }).eval.map((p) => p.source)).size).toBe(1);
    expect(new Set(splitByDocument(items, { evalShare: 0.99 }).train.map((p) => p.source)).size).toBe(1);
    expect(splitByDocument(items, { evalShare: 0 }).eval).toEqual([]);
    expect(() =>
      splitByDocument(
        items.map((p) => ({ ...p, source: 'one' })),
        { evalShare: 0.1 },
      ),
    ).toThrow(/at least 2 source documents/);
    expect(() => splitByDocument(items, { evalShare: 1 })).toThrow(/evalShare must be in \[0, 1\)/);
  });
});

describe('clozeQuestions', () => {
  it('blanks a capitalised phrase, else a number, else the longest content word', () => {
    expect(clozeOfSentence('The capital of Kalomi is Amber.', '_____')).toEqual({
      question: 'The capital of _____ is Amber.',
      answer: 'Kalomi',
    });
    expect(clozeOfSentence('The World Health Organization declared a pandemic in March.', '_____')).toEqual({
      question: 'The _____ declared a pandemic in March.',
      answer: 'World Health Organization',
    });
    expect(clozeOfSentence('In 2019 the outbreak spread to nine cities.', '_____')).toEqual({
      question: 'In _____ the outbreak spread to nine cities.',
      answer: '2019',
    });
    expect(clozeOfSentence('Viruses replicate inside host cells quickly.', '_____')).toEqual({
      question: 'Viruses _____ inside host cells quickly.',
      answer: 'replicate',
    });
    // A span repeated elsewhere in the sentence is skipped (the question would give it away).
    expect(clozeOfSentence('Amber trades with Amber and Birch merchants.', '_____')).toEqual({
      question: 'Amber trades with Amber and _____ merchants.',
      answer: 'Birch',
    });
  });

  it('makes QA pairs whose answers are spans of their passage', () => {
    const passages = [
      passage(
        'a',
        'The capital of Kalomi is Amber. It has many rivers and old bridges. Tourists visit in 2020 and 2021.',
      ),
      passage('b', 'Ravu exports glass and salt to its neighbours. Its harbour opened in 1890.'),
      passage('c', 'Short one.'),
    ];
    const qa = clozeQuestions(passages, { perPassage: 2, seed: 4 });
    expect(qa.length).toBe(4); // 'c' has no sentence of 5+ words
    for (const ex of qa) {
      const p = passages.find((x) => x.id === ex.positiveIds![0])!;
      expect(p.text).toContain(ex.answers[0]);
      expect(p.text).toContain(ex.question.replace('_____', ex.answers[0]!));
      expect(ex.documentId).toBe(p.source);
    }
    expect(new Set(qa.map((q) => q.id)).size).toBe(qa.length);
  });

  describe.skipIf(!existsSync(covid))('on COVID-QA passages', () => {
    it('every answer is a span, and most passages yield a question', async () => {
      const corpus = (await loadCovidQaDataset(covid, 'dev')).corpus.slice(0, 300);
      const qa = clozeQuestions(corpus, { perPassage: 2 });
      const byId = new Map(corpus.map((p) => [p.id, p]));
      for (const ex of qa) {
        const text = byId.get(ex.positiveIds![0]!)!.text;
        expect(text.includes(ex.question.replace('_____', ex.answers[0]!))).toBe(true);
      }
      const covered = new Set(qa.map((q) => q.positiveIds![0])).size;
      console.log(
        `cloze on ${corpus.length} COVID-QA passages: ${qa.length} questions, ${covered} passages covered; e.g. ${JSON.stringify(qa[0])}`,
      );
      expect(covered).toBeGreaterThan(0.8 * corpus.length);
    });
  });
});
