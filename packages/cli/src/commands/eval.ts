/** `dalm eval retriever|generator`: standard metrics as JSON. */
import { Command, Option } from 'commander';
import { IrEvaluator, RETRIEVAL_MODES, loadBeirDataset, type RetrievalMode } from '@dalm/retriever';
import { RagPipeline, loadInferenceGenerator, type GenerateOptions } from '@dalm/generator';
import { readQaExamples } from '@dalm/trainer';
import { addOptions, readOptions, intArg } from '../options';
import { GENERATE_OPTIONS, HYBRID_OPTIONS, hybridConfig, type HybridCliConfig, modelHelp, RUNTIME_OPTIONS } from '../specs';
import { openIndex, printJson, runtimeOption, startEngine } from '../context';
import { evalAnswers, qrelsFromQa } from './train';

function retrieverEval(): Command {
  const cmd = new Command('retriever')
    .description('recall@k, hit@k, MRR@10, nDCG@10 (primary), MAP@100 of dense, BM25 and hybrid retrieval')
    .requiredOption('--index <dir>', 'index directory')
    .option('--qa <file>', 'queries with positive_ids (.jsonl, COVID-QA layout)')
    .option('--beir <dir>', 'a BEIR dataset directory (queries.jsonl + qrels/<split>.tsv) instead of --qa')
    .option('--split <name>', 'BEIR split', 'test')
    .option('--retriever <model>', modelHelp('encoder', 'default: the one recorded in the index'))
    .option('--modes <list>', `comma-separated modes (${RETRIEVAL_MODES.join(', ')}); default all available`)
    .option('--json', 'print JSON');
  addOptions(cmd, HYBRID_OPTIONS, { rrfK: 60, denseWeight: 1, bm25Weight: 1 });
  addOptions(cmd, RUNTIME_OPTIONS, { runtime: 'auto' });
  cmd.addHelpText('after', '\nExamples:\n  dalm eval retriever --index runs/index --qa dev.jsonl\n  dalm eval retriever --index runs/index --qa dev.jsonl --modes bm25 --json');
  return cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    await startEngine(self);
    const { index, encoder } = await openIndex(String(opts.index), opts.retriever as string | undefined, runtimeOption(opts));
    let queries;
    let qrels;
    if (opts.qa) ({ queries, qrels } = qrelsFromQa(await readQaExamples(String(opts.qa), { requireAnswers: false })));
    else if (opts.beir) ({ queries, qrels } = await loadBeirDataset(String(opts.beir), String(opts.split)));
    else throw new Error('give --qa or --beir');
    const modes = opts.modes ? String(opts.modes).split(',') : index.dense ? [...RETRIEVAL_MODES] : ['bm25'];
    for (const m of modes) if (!(RETRIEVAL_MODES as readonly string[]).includes(m)) throw new Error(`--modes: unknown mode "${m}" (valid: ${RETRIEVAL_MODES.join(', ')})`);
    const evaluator = new IrEvaluator(queries, qrels);
    const results: Record<string, Record<string, number>> = {};
    for (const m of modes) results[m] = await evaluator.evaluate(index.retrieval(m as RetrievalMode, hybridConfig(readOptions<HybridCliConfig>(opts, HYBRID_OPTIONS))));
    index.dispose();
    encoder?.dispose();
    const out = { primary: evaluator.primary, queries: queries.length, results };
    if (opts.json) printJson(out);
    else {
      const names = Object.keys(results[modes[0]]);
      process.stdout.write(`${'metric'.padEnd(12)}${modes.map((m) => m.padStart(10)).join('')}\n`);
      for (const n of names) process.stdout.write(`${n.padEnd(12)}${modes.map((m) => results[m][n].toFixed(4).padStart(10)).join('')}\n`);
      process.stdout.write(`(${queries.length} queries; primary metric ${evaluator.primary})\n`);
    }
  });
}

function generatorEval(): Command {
  const cmd = new Command('generator')
    .description('exact match and token F1 (SQuAD normalisation) of answers, closed-book or retrieval-augmented')
    .requiredOption('--generator <model>', modelHelp('generator'))
    .requiredOption('--qa <file>', 'questions with answers (.jsonl)')
    .option('--index <dir>', 'index directory for retrieval-augmented answers')
    .option('--retriever <model>', modelHelp('encoder', 'default: the one recorded in the index'))
    .addOption(new Option('--mode <mode>', 'retrieval mode').choices([...RETRIEVAL_MODES]).default('bm25'))
    .option('-k, --k <n>', 'passages in the prompt', intArg('-k', 1), 3)
    .option('--closed-book', 'no retrieval: the question alone')
    .option('--limit <n>', 'evaluate the first n questions', intArg('--limit', 1))
    .option('--json', 'print JSON');
  addOptions(cmd, GENERATE_OPTIONS, { maxNewTokens: 32 });
  addOptions(cmd, RUNTIME_OPTIONS, { runtime: 'auto' });
  cmd.addHelpText('after', '\nExamples:\n  dalm eval generator --generator runs/generator --qa dev.jsonl --index runs/index\n  dalm eval generator --generator runs/generator --qa dev.jsonl --closed-book --json');
  return cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    await startEngine(self);
    let qa = await readQaExamples(String(opts.qa));
    if (opts.limit) qa = qa.slice(0, Number(opts.limit));
    const gen = await loadInferenceGenerator(String(opts.generator), { runtime: runtimeOption(opts) });
    const opened = opts.index && !opts.closedBook ? await openIndex(String(opts.index), opts.retriever as string | undefined, runtimeOption(opts)) : null;
    if (!opened && !opts.closedBook) throw new Error('give --index for retrieval-augmented answers, or --closed-book');
    const rag = new RagPipeline(gen.model, gen.tokenizer, gen.format, opened ? opened.index.retrieval(opts.mode as RetrievalMode) : null);
    const metrics = await evalAnswers(rag, qa, { k: Number(opts.k), closedBook: Boolean(opts.closedBook), generate: readOptions<GenerateOptions>(opts, GENERATE_OPTIONS) });
    gen.model.dispose();
    opened?.index.dispose();
    opened?.encoder?.dispose();
    const out = { primary: 'f1', setting: opts.closedBook ? 'closed-book' : `rag-${opts.mode}-k${opts.k}`, ...metrics };
    if (opts.json) printJson(out);
    else process.stdout.write(`${out.setting}: exact_match ${metrics.exact_match.toFixed(4)}  f1 ${metrics.f1.toFixed(4)}  (${metrics.count} questions)\n`);
  });
}

export function evalCommand(): Command {
  return new Command('eval').description('evaluate a retriever or a generator').addCommand(retrieverEval()).addCommand(generatorEval());
}
