/**
 * `dalm eval retriever|generator`: standard metrics with 95 % bootstrap intervals, and a paired
 * test of each system against the first when several are evaluated on the same questions.
 */
import path from 'node:path';
import { Command, Option } from 'commander';
import { compareSystems, type BootstrapConfig } from '@dalm/core';
import {
  IR_METRIC_NAMES,
  IrEvaluator,
  RETRIEVAL_MODES,
  loadBeirDataset,
  type IrQuery,
  type Qrels,
  type RetrievalMode,
} from '@dalm/retriever';
import {
  AnswerEvaluator,
  ANSWER_METRIC_NAMES,
  RagPipeline,
  loadInferenceGenerator,
  type GenerateOptions,
} from '@dalm/generator';
import { qrelsFromQa, readQaExamples } from '@dalm/trainer';
import { addOptions, readOptions, intArg } from '../options';
import {
  BOOTSTRAP_OPTIONS,
  GENERATE_OPTIONS,
  HYBRID_OPTIONS,
  hybridConfig,
  type HybridCliConfig,
  modelHelp,
  RUNTIME_OPTIONS,
} from '../specs';
import { openIndex, printJson, runtimeOption, startEngine } from '../context';
import { formatPaired, formatWithCi } from './eval-report';

function retrieverEval(): Command {
  const cmd = new Command('retriever')
    .description(
      'recall@k, hit@k, MRR@10, nDCG@10 (primary), MAP@100 of dense, BM25 and hybrid retrieval, with 95% bootstrap intervals and paired tests against the first mode',
    )
    .requiredOption('--index <dir>', 'index directory')
    .option('--qa <file>', 'queries with positive_ids (.jsonl, COVID-QA layout)')
    .option('--beir <dir>', 'a BEIR dataset directory (queries.jsonl + qrels/<split>.tsv) instead of --qa')
    .option('--split <name>', 'BEIR split', 'test')
    .option('--retriever <model>', modelHelp('encoder', 'default: the one recorded in the index'))
    .option(
      '--modes <list>',
      `comma-separated modes (${RETRIEVAL_MODES.join(', ')}); default bm25,dense,hybrid (those available); paired tests compare each with the first`,
    )
    .option('--json', 'print JSON');
  addOptions(cmd, HYBRID_OPTIONS, { rrfK: 60, denseWeight: 1, bm25Weight: 1 });
  addOptions(cmd, BOOTSTRAP_OPTIONS, { resamples: 1000, confidence: 0.95, seed: 1 });
  addOptions(cmd, RUNTIME_OPTIONS, { runtime: 'auto' });
  cmd.addHelpText(
    'after',
    `
Examples:
  dalm eval retriever --index runs/index --qa dev.jsonl
  dalm eval retriever --index runs/index --qa dev.jsonl --modes bm25,hybrid --json

Hybrid mode uses the index's fusion.json (from \`dalm tune fusion\`) unless fusion options are given.
JSON: results {mode: {metric: mean}}, ci95 {mode: {metric: [low, high]}},
paired {mode: {metric: {delta, low, high, p}}} (each mode after the first, against the first).`,
  );
  return cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    await startEngine(self);
    const { index, encoder } = await openIndex(
      String(opts.index),
      opts.retriever as string | undefined,
      runtimeOption(opts),
    );
    let queries: IrQuery[];
    let qrels: Qrels;
    let withoutPositives = 0;
    if (opts.qa)
      ({ queries, qrels, withoutPositives } = qrelsFromQa(
        await readQaExamples(String(opts.qa), { requireAnswers: false }),
      ));
    else if (opts.beir) ({ queries, qrels } = await loadBeirDataset(String(opts.beir), String(opts.split)));
    else throw new Error('give --qa or --beir');
    const modes = opts.modes ? String(opts.modes).split(',') : index.dense ? ['bm25', 'dense', 'hybrid'] : ['bm25'];
    for (const m of modes)
      if (!(RETRIEVAL_MODES as readonly string[]).includes(m))
        throw new Error(`--modes: unknown mode "${m}" (valid: ${RETRIEVAL_MODES.join(', ')})`);
    let evaluator: IrEvaluator;
    try {
      evaluator = new IrEvaluator(queries, qrels, { passageIds: index.passages().map((p) => p.id) });
    } catch (e) {
      throw new Error(`${String(opts.qa ?? opts.beir)}: ${(e as Error).message} (index ${String(opts.index)})`);
    }
    const hybrid = index.hybridConfig(hybridConfig(readOptions<HybridCliConfig>(opts, HYBRID_OPTIONS)));
    const results: Record<string, Record<string, number>> = {};
    const perQuery: Record<string, Record<string, number[]>> = {};
    for (const m of modes) {
      const r = await evaluator.evaluateDetailed(index.retrieval(m as RetrievalMode, hybrid.config));
      results[m] = r.metrics;
      perQuery[m] = r.perQuery;
    }
    index.dispose();
    encoder?.dispose();
    const bootstrap = readOptions<BootstrapConfig>(opts, BOOTSTRAP_OPTIONS);
    const { ci95, paired } = compareSystems(perQuery, bootstrap);
    const skipped = {
      withoutPositives: withoutPositives + evaluator.skipped.noJudgements,
      notInIndex: evaluator.skipped.notInIndex,
      partlyInIndex: evaluator.skipped.partlyInIndex,
    };
    const out = {
      primary: evaluator.primary,
      queries: evaluator.queries.length,
      skipped,
      ...(modes.includes('hybrid') ? { fusion: { source: hybrid.source, ...hybrid.config } } : {}),
      results,
      ci95,
      paired,
    };
    if (opts.json) printJson(out);
    else {
      const note = [
        withoutPositives ? `${withoutPositives} examples without positive_ids` : '',
        evaluator.skippedNote(),
      ]
        .filter(Boolean)
        .join('; ');
      process.stdout.write(formatWithCi(results, ci95, IR_METRIC_NAMES) + '\n');
      process.stdout.write(
        `(${evaluator.queries.length} queries; primary metric ${evaluator.primary}; 95% bootstrap intervals${note ? `; ${note}` : ''})\n`,
      );
      if (modes.includes('hybrid'))
        process.stdout.write(
          `hybrid fusion (${hybrid.source}): ${hybrid.config.method}, weights dense ${hybrid.config.weights.dense} / bm25 ${hybrid.config.weights.bm25}\n`,
        );
      const lines = formatPaired(paired, modes[0]!, [evaluator.primary]);
      if (lines) process.stdout.write(`paired tests (approximate randomisation, two-sided):\n${lines}\n`);
    }
  });
}

const SETTINGS = ['closed-book', ...RETRIEVAL_MODES] as const;

function generatorEval(): Command {
  const cmd = new Command('generator')
    .description(
      'exact match and token F1 (SQuAD normalisation) of answers, closed-book or retrieval-augmented, with 95% bootstrap intervals; several generators or modes get paired tests against the first',
    )
    .requiredOption(
      '--generator <models>',
      modelHelp('generator', 'several, comma-separated, to compare them on the same questions'),
    )
    .requiredOption('--qa <file>', 'questions with answers (.jsonl)')
    .option('--index <dir>', 'index directory for retrieval-augmented answers')
    .option('--retriever <model>', modelHelp('encoder', 'default: the one recorded in the index'))
    .addOption(new Option('--mode <mode>', 'retrieval mode').choices([...RETRIEVAL_MODES]).default('bm25'))
    .option(
      '--modes <list>',
      `several settings compared on the same questions, comma-separated (${SETTINGS.join(', ')}); overrides --mode/--closed-book`,
    )
    .option('-k, --k <n>', 'passages in the prompt', intArg('-k', 1), 3)
    .option('--closed-book', 'no retrieval: the question alone')
    .option('--limit <n>', 'evaluate the first n questions', intArg('--limit', 1))
    .option('--json', 'print JSON');
  addOptions(cmd, GENERATE_OPTIONS, { maxNewTokens: 32 });
  addOptions(cmd, HYBRID_OPTIONS);
  addOptions(cmd, BOOTSTRAP_OPTIONS, { resamples: 1000, confidence: 0.95, seed: 1 });
  addOptions(cmd, RUNTIME_OPTIONS, { runtime: 'auto' });
  cmd.addHelpText(
    'after',
    `
Examples:
  dalm eval generator --generator runs/generator --qa dev.jsonl --index runs/index
  dalm eval generator --generator runs/generator --qa dev.jsonl --closed-book --json
  dalm eval generator --generator runs/generator --qa dev.jsonl --index runs/index --modes closed-book,bm25,hybrid
  dalm eval generator --generator runs/gen-separate,runs/e2e/generator --qa dev.jsonl --index runs/index --mode dense

JSON: exact_match/f1/count of the first system (as before), and results {system: {...}},
ci95 {system: {metric: [low, high]}}, paired {system: {metric: {delta, low, high, p}}}.`,
  );
  return cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    await startEngine(self);
    let qa = await readQaExamples(String(opts.qa));
    if (opts.limit) qa = qa.slice(0, Number(opts.limit));
    const settings = opts.modes
      ? String(opts.modes)
          .split(',')
          .map((s) => s.trim())
      : [opts.closedBook ? 'closed-book' : String(opts.mode)];
    for (const s of settings)
      if (!(SETTINGS as readonly string[]).includes(s))
        throw new Error(`--modes: unknown setting "${s}" (valid: ${SETTINGS.join(', ')})`);
    const needsIndex = settings.some((s) => s !== 'closed-book');
    const opened =
      needsIndex && opts.index
        ? await openIndex(String(opts.index), opts.retriever as string | undefined, runtimeOption(opts))
        : null;
    if (needsIndex && !opened) throw new Error('give --index for retrieval-augmented answers, or --closed-book');
    const hybrid = opened?.index.hybridConfig(hybridConfig(readOptions<HybridCliConfig>(opts, HYBRID_OPTIONS)));
    const generators = String(opts.generator)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bootstrap = readOptions<BootstrapConfig>(opts, BOOTSTRAP_OPTIONS);
    const evaluator = new AnswerEvaluator(qa, { bootstrap });
    const generate = readOptions<GenerateOptions>(opts, GENERATE_OPTIONS);
    const results: Record<string, Record<string, number>> = {};
    const perQuestion: Record<string, Record<string, number[]>> = {};
    for (const dir of generators) {
      const gen = await loadInferenceGenerator(dir, { runtime: runtimeOption(opts) });
      for (const s of settings) {
        const name = generators.length > 1 ? `${path.basename(path.resolve(dir))}:${s}` : s;
        if (results[name])
          throw new Error(
            `--generator: two generators named "${path.basename(path.resolve(dir))}"; give directories with different names`,
          );
        const retrieval = s === 'closed-book' ? null : opened!.index.retrieval(s as RetrievalMode, hybrid!.config);
        const rag = new RagPipeline(gen.model, gen.tokenizer, gen.format, retrieval);
        const r = await evaluator.evaluate(rag, { k: Number(opts.k), closedBook: s === 'closed-book', generate });
        results[name] = r.metrics;
        perQuestion[name] = r.perQuestion;
      }
      gen.model.dispose();
    }
    opened?.index.dispose();
    opened?.encoder?.dispose();
    const { ci95, paired } = compareSystems(perQuestion, bootstrap);
    const first = Object.keys(results)[0]!;
    const setting = (s: string) => (s.endsWith('closed-book') ? s : `${s.replace(/([^:]*)$/, 'rag-$1')}-k${opts.k}`);
    const out = {
      primary: evaluator.primary,
      setting: setting(first),
      ...results[first],
      ...(settings.includes('hybrid') && hybrid ? { fusion: { source: hybrid.source, ...hybrid.config } } : {}),
      results,
      ci95,
      paired,
    };
    if (opts.json) printJson(out);
    else {
      process.stdout.write(formatWithCi(results, ci95, ANSWER_METRIC_NAMES) + '\n');
      process.stdout.write(
        `(${qa.length} questions; primary metric ${evaluator.primary}; k ${opts.k}; 95% bootstrap intervals)\n`,
      );
      const lines = formatPaired(paired, first, ANSWER_METRIC_NAMES);
      if (lines) process.stdout.write(`paired tests (approximate randomisation, two-sided):\n${lines}\n`);
    }
  });
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('evaluate a retriever or a generator')
    .addCommand(retrieverEval())
    .addCommand(generatorEval());
}
