/**
 * Fast experiment harness for the quickstart's generator (the "reader"): the same WordNet domain,
 * split, tokenizer and model preset as `dalm quickstart`, but BM25 retrieval instead of the trained
 * dense/hybrid retriever (no retriever training) and fewer evaluation questions, so one variant
 * trains and evaluates in a minute or two. It reports held-out exact match with the retrieved
 * passage, with the gold passage, and closed-book, and where the wrong answers come from.
 *
 *   pnpm tsx scripts/reader-experiment.ts '{"steps":450,"learningRate":3e-3}'
 *
 * The JSON argument overrides the fields of `Variant` below (see its defaults).
 */
import { initEngine, Rng } from '@dalm/core';
import { Bm25Index, type Passage } from '@dalm/retriever';
import { RagPipeline, scoreAnswers, normalizeAnswer, type PassageSearch, type PromptFormat } from '@dalm/generator';
import {
  buildRaftExamples,
  loadWordnetDomain,
  splitByDocument,
  trainGenerator,
  scratchGenerator,
  type QaExample,
} from '@dalm/trainer';

interface Variant {
  steps: number;
  batchSize: number;
  learningRate: number;
  warmup: number;
  contextTokens: number;
  maxAnswerTokens: number;
  goldShare: number;
  counterfactualShare: number;
  promptLossWeight: number;
  k: number;
  evalQuestions: number;
  maxNewTokens: number;
  format: Partial<PromptFormat>;
  model: Record<string, number>;
  weightDecay: number;
  decay: 'linear' | 'cosine' | 'constant';
  seed: number;
  /** Evaluate on training questions too (memorisation vs reading). */
  evalTrain: boolean;
}

const V: Variant = {
  steps: 450,
  batchSize: 16,
  learningRate: 3e-3,
  warmup: 45,
  contextTokens: 160,
  maxAnswerTokens: 16,
  goldShare: 0.9,
  counterfactualShare: 0,
  promptLossWeight: 0,
  k: 1,
  evalQuestions: 100,
  maxNewTokens: 12,
  format: {},
  model: {},
  weightDecay: 0.01,
  decay: 'linear',
  seed: 1,
  evalTrain: false,
  ...(JSON.parse(process.argv[2] ?? '{}') as Partial<Variant>),
};

async function main() {
  await initEngine({ backend: 'wasm' });
  const t0 = Date.now();
  const wn = await loadWordnetDomain('noun.food');
  const passages: Passage[] = wn.documents.map((d) => ({
    id: d.id,
    text: d.text,
    title: d.title,
    source: d.id,
    start: 0,
    end: d.text.length,
  }));
  const { eval: evalPassages } = splitByDocument(passages, { evalShare: 0.1, seed: V.seed });
  const evalIds = new Set(evalPassages.map((p) => p.id));
  const isEval = (q: QaExample) => (q.positiveIds ?? []).some((id) => evalIds.has(id));
  const trainQa = wn.questions.filter((q) => !isEval(q));
  const heldOut = new Rng(V.seed).shuffle(wn.questions.filter(isEval)).slice(0, V.evalQuestions);
  const byId = new Map(passages.map((p) => [p.id, p]));
  const bm25 = Bm25Index.build(passages);
  const texts = passages.map((p) => p.text);
  const gen = scratchGenerator([...texts, ...trainQa.map((q) => `${q.question} ${q.answers[0]}`)], 'tiny', V.seed, {
    max_position_embeddings: 256,
    ...V.model,
  });
  Object.assign(gen.format, V.format);
  gen.format.contextTokens = V.contextTokens;
  const examples = await buildRaftExamples(trainQa, bm25, byId, {
    k: V.k,
    goldShare: V.goldShare,
    counterfactualShare: V.counterfactualShare,
    seed: V.seed,
  });
  const res = await trainGenerator(gen.model, gen.tokenizer, gen.format, examples, {
    steps: V.steps,
    batchSize: V.batchSize,
    learningRate: V.learningRate,
    warmupSteps: V.warmup,
    maxSeqLength: V.contextTokens,
    maxAnswerTokens: V.maxAnswerTokens,
    weightDecay: V.weightDecay,
    promptLossWeight: V.promptLossWeight,
    decay: V.decay,
    seed: V.seed,
    quiet: true,
  });
  const tTrain = (Date.now() - t0) / 1000;
  const gold: PassageSearch = {
    search: async (q: string) => {
      const ex = [...heldOut, ...trainQa].find((h) => h.question === q)!;
      const p = byId.get(ex.positiveIds![0])!;
      return [{ id: p.id, score: 1, passage: p }];
    },
  };
  const freq = new Map<string, number>();
  for (const q of trainQa) freq.set(q.answers[0], (freq.get(q.answers[0]) ?? 0) + 1);
  const eval1 = async (name: string, qs: QaExample[], retrieval: PassageSearch | null, closedBook = false) => {
    const rag = new RagPipeline(gen.model, gen.tokenizer, gen.format, retrieval);
    const answers = await rag.askMany(
      qs.map((q) => q.question),
      { k: V.k, closedBook, generate: { maxNewTokens: V.maxNewTokens }, batchSize: 25 },
    );
    const m = scoreAnswers(answers.map((a, i) => ({ prediction: a.answer, references: qs[i].answers })));
    // Where wrong answers come from: in the passage? a frequent training answer? truncated?
    let wrong = 0,
      inPassage = 0,
      trainAnswer = 0,
      truncated = 0;
    const samples: string[] = [];
    answers.forEach((a, i) => {
      if (normalizeAnswer(a.answer) === normalizeAnswer(qs[i].answers[0])) return;
      wrong++;
      const ptext = a.citations
        .map((c) => c.text)
        .join(' ')
        .toLowerCase();
      if (a.answer && ptext.includes(a.answer.toLowerCase())) inPassage++;
      if (freq.has(a.answer)) trainAnswer++;
      if (a.finishReason === 'length') truncated++;
      if (samples.length < 6)
        samples.push(
          `${JSON.stringify(a.answer)} (ref ${JSON.stringify(qs[i].answers[0])}${a.citations[0] ? `, passage ${a.citations[0].id === qs[i].positiveIds![0] ? 'gold' : 'other'}` : ''})`,
        );
    });
    console.log(
      `${name.padEnd(12)} EM ${m.exact_match.toFixed(3)}  F1 ${m.f1.toFixed(3)}  wrong ${wrong}: in passage ${inPassage}, a training answer ${trainAnswer}, cut by length ${truncated}`,
    );
    console.log(`   e.g. ${samples.join('; ')}`);
    return m;
  };
  console.log(
    `variant ${JSON.stringify(process.argv[2] ?? '{}')}  train ${tTrain.toFixed(0)} s  loss first ${res.losses.slice(0, 10).reduce((a, b) => a + b, 0) / 10} last ${(res.losses.slice(-20).reduce((a, b) => a + b, 0) / 20).toFixed(3)}`,
  );
  await eval1('retrieved', heldOut, bm25);
  await eval1('gold', heldOut, gold);
  await eval1('closed-book', heldOut, null, true);
  if (V.evalTrain) await eval1('train-gold', trainQa.slice(0, V.evalQuestions), gold);
  console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
