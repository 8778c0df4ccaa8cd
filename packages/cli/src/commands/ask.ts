/** `dalm ask`: retrieve, stream the answer, then cite the passages it was given. */
import { Command, Option } from 'commander';
import { RETRIEVAL_MODES, type RetrievalMode } from '@dalm/retriever';
import { RagPipeline, loadInferenceGenerator, type GenerateOptions, type RagAnswer } from '@dalm/generator';
import { addOptions, readOptions, intArg } from '../options';
import {
  GENERATE_OPTIONS,
  HYBRID_OPTIONS,
  hybridConfig,
  type HybridCliConfig,
  modelHelp,
  RUNTIME_OPTIONS,
} from '../specs';
import { openIndex, printJson, runtimeOption, startEngine } from '../context';

export function formatCitations(a: RagAnswer): string {
  return a.citations
    .map(
      (c) =>
        `  [${c.id}] ${c.source ?? ''}${c.title ? ` — ${c.title}` : ''}  (score ${c.score.toFixed(4)}${c.keptTokens < c.totalTokens ? `, ${c.keptTokens}/${c.totalTokens} tokens shown` : ''})`,
    )
    .join('\n');
}

export function askCommand(): Command {
  const cmd = new Command('ask')
    .description('answer a question from the index, streaming the answer, then the cited passages')
    .argument('<question>', 'the question')
    .requiredOption('--generator <model>', modelHelp('generator'))
    .option('--index <dir>', 'index directory (omit with --closed-book)')
    .option('--retriever <model>', modelHelp('encoder', 'default: the one recorded in the index'))
    .addOption(
      new Option('--mode <mode>', 'retrieval mode (default: hybrid with a dense index, else bm25)').choices([
        ...RETRIEVAL_MODES,
      ]),
    )
    .option('-k, --k <n>', 'passages in the prompt', intArg('-k', 1), 3)
    .option('--closed-book', 'answer without retrieval')
    .option('--json', 'print one JSON object (no streaming)');
  addOptions(cmd, GENERATE_OPTIONS, { maxNewTokens: 32 });
  addOptions(cmd, HYBRID_OPTIONS);
  addOptions(cmd, RUNTIME_OPTIONS, { runtime: 'auto' });
  cmd.addHelpText(
    'after',
    '\nExamples:\n  dalm ask "What is the incubation period?" --generator runs/generator --index runs/index\n  dalm ask "Who hosts the virus?" --generator runs/generator --index runs/index -k 5 --temperature 0.7 --json',
  );
  return cmd.action(async (question: string, opts: Record<string, unknown>, self: Command) => {
    if (question.trim() === '') throw new Error('the question is empty: give a question to answer');
    await startEngine(self);
    const gen = await loadInferenceGenerator(String(opts.generator), { runtime: runtimeOption(opts) });
    const opened =
      opts.index && !opts.closedBook
        ? await openIndex(String(opts.index), opts.retriever as string | undefined, runtimeOption(opts))
        : null;
    if (!opened && !opts.closedBook) throw new Error('give --index, or --closed-book');
    const mode = (opts.mode as RetrievalMode | undefined) ?? (opened?.index.dense ? 'hybrid' : 'bm25');
    const hybrid = opened?.index.hybridConfig(hybridConfig(readOptions<HybridCliConfig>(opts, HYBRID_OPTIONS)));
    const retrieval = opened ? opened.index.retrieval(mode, hybrid!.config) : null;
    const rag = new RagPipeline(gen.model, gen.tokenizer, gen.format, retrieval);
    const ragOpts = {
      k: Number(opts.k),
      closedBook: Boolean(opts.closedBook),
      generate: readOptions<GenerateOptions>(opts, GENERATE_OPTIONS),
    };
    let answer: RagAnswer;
    if (opts.json) {
      answer = await rag.ask(question, ragOpts);
      printJson({
        ...answer,
        mode: opened ? mode : 'closed-book',
        ...(opened && mode === 'hybrid' ? { fusion: { source: hybrid!.source, ...hybrid!.config } } : {}),
      });
    } else {
      const it = rag.stream(question, ragOpts);
      let r = await it.next();
      while (!r.done) {
        process.stdout.write(r.value);
        r = await it.next();
      }
      answer = r.value;
      process.stdout.write(
        `\n\n${answer.citations.length ? `Sources:\n${formatCitations(answer)}` : 'Sources: none (closed-book)'}\n`,
      );
    }
    gen.model.dispose();
    opened?.index.dispose();
    opened?.encoder?.dispose();
  });
}
