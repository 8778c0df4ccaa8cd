/** `dalm train retriever|generator|e2e`: configurations of the one training loop. */
import { Command, Option } from 'commander';
import path from 'node:path';
import {
  buildIndexDir,
  IrEvaluator,
  RETRIEVAL_MODES,
  loadEncoder,
  type Encoder,
  type Passage,
  type RetrievalMode,
} from '@dalm/retriever';
import {
  AnswerEvaluator,
  RagPipeline,
  loadGenerator,
  mergeLora,
  saveGenerator,
  saveGeneratorAdapter,
  validateLoraConfig,
  type LoraConfig,
} from '@dalm/generator';
import {
  buildRaftExamples,
  qrelsFromQa,
  readPairs,
  readQaExamples,
  trainGenerator,
  trainRetriever,
  trainEndToEnd,
  trainLanguageModel,
  type LmTrainConfig,
  type E2ETrainConfig,
  type GeneratorTrainConfig,
  type QaExample,
  type RetrieverTrainConfig,
  type TrainLoopConfig,
  DEFAULT_RETRIEVER_TRAIN_CONFIG,
  DEFAULT_GENERATOR_TRAIN_CONFIG,
  DEFAULT_LM_TRAIN_CONFIG,
  DEFAULT_E2E_TRAIN_CONFIG,
} from '@dalm/trainer';
import { addOptions, readOptions, intArg, floatArg } from '../options';
import {
  E2E_TRAIN_OPTIONS,
  GENERATE_OPTIONS,
  GENERATOR_TRAIN_OPTIONS,
  LORA_OPTIONS,
  RETRIEVER_TRAIN_OPTIONS,
  TRAIN_LOOP_OPTIONS,
  modelHelp,
} from '../specs';
import { checkSize, corpusPassages, openIndex, printJson, startEngine, FORCE_OPTION_HELP, guardOut } from '../context';
import { MODEL_SIZES, scratchEncoder, scratchGenerator } from '@dalm/trainer';
import type { GenerateOptions } from '@dalm/generator';

/** Retrieval metrics of `encoder` on held-out QA over `corpus` (exact search, so only the encoder is measured). */
async function evalEncoder(
  encoder: Encoder,
  examples: readonly QaExample[],
  corpus: readonly Passage[],
): Promise<Record<string, number>> {
  const { queries, qrels } = qrelsFromQa(examples);
  await encoder.ensureFingerprint(); // the index records it (on webgpu a fresh encoder has none yet)
  return new IrEvaluator(queries, qrels, { passageIds: corpus.map((p) => p.id) }).evaluateEmbedder(encoder, corpus);
}

function retrieverCommand(): Command {
  const cmd = new Command('retriever')
    .description('contrastive training of the bi-encoder (InfoNCE, in-batch + hard negatives)')
    .requiredOption('--pairs <file>', 'training pairs (.jsonl/.csv; see `dalm pairs`)')
    .requiredOption('--out <dir>', 'where to save the trained retriever')
    .option('--base <model>', modelHelp('start from this encoder (HF BERT / sentence-transformers)'))
    .option('--size <size>', `from-scratch size when no --base (${MODEL_SIZES.join(', ')})`, 'small')
    .option('--tokenizer-corpus <source>', 'texts for the from-scratch WordPiece tokenizer (default: the pairs)')
    .option('--eval-qa <file>', 'held-out QA .jsonl with positive_ids, evaluated during training')
    .option('--eval-corpus <source>', 'passages for --eval-qa')
    .option('--model-seed <n>', 'seed of a from-scratch initialisation', intArg('--model-seed'), 0)
    .option('--force', FORCE_OPTION_HELP)
    .option('--json', 'print the final result as JSON');
  // --help shows the library's defaults: the values the recipe uses for options not given.
  addOptions(cmd, TRAIN_LOOP_OPTIONS, DEFAULT_RETRIEVER_TRAIN_CONFIG);
  addOptions(cmd, RETRIEVER_TRAIN_OPTIONS, DEFAULT_RETRIEVER_TRAIN_CONFIG);
  cmd.addHelpText(
    'after',
    '\nExamples:\n  dalm train retriever --pairs runs/pairs.jsonl --out runs/retriever --steps 400 --run-dir runs/train-retriever\n  dalm train retriever --pairs pairs.jsonl --base BAAI/bge-small-en-v1.5 --out runs/retriever --lr 2e-5',
  );
  return cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    await guardOut(String(opts.out), 'model', opts, [
      opts.pairs,
      opts.base,
      opts.tokenizerCorpus,
      opts.evalQa,
      opts.evalCorpus,
    ]);
    await startEngine(self);
    const pairs = await readPairs(String(opts.pairs));
    const encoder = opts.base
      ? await loadEncoder(String(opts.base))
      : scratchEncoder(
          opts.tokenizerCorpus
            ? (await corpusPassages(String(opts.tokenizerCorpus))).map((p) => p.text)
            : pairs.flatMap((p) => [p.query, p.positive]),
          checkSize(String(opts.size)),
          Number(opts.modelSeed),
        );
    const evalQa = opts.evalQa ? await readQaExamples(String(opts.evalQa), { requireAnswers: false }) : null;
    const evalCorpus = opts.evalCorpus ? await corpusPassages(String(opts.evalCorpus)) : null;
    if (evalQa && !evalCorpus) throw new Error('--eval-qa needs --eval-corpus');
    const config: Partial<RetrieverTrainConfig> = {
      ...readOptions<TrainLoopConfig>(opts, TRAIN_LOOP_OPTIONS),
      ...readOptions<RetrieverTrainConfig>(opts, RETRIEVER_TRAIN_OPTIONS),
      quiet: Boolean((self.optsWithGlobals() as { quiet?: boolean }).quiet),
    };
    const before = evalQa ? await evalEncoder(encoder, evalQa, evalCorpus!) : null;
    const result = await trainRetriever(encoder, pairs, config, {
      evaluate: evalQa ? () => evalEncoder(encoder, evalQa, evalCorpus!) : undefined,
    });
    await encoder.save(String(opts.out));
    const summary = {
      out: opts.out,
      steps: result.steps,
      finalLoss: result.losses.at(-1) ?? null,
      before,
      after: result.eval,
      fingerprint: await encoder.ensureFingerprint(),
    };
    encoder.dispose();
    if (opts.json) printJson(summary);
    else {
      process.stdout.write(`saved retriever to ${opts.out} (fingerprint ${summary.fingerprint})\n`);
      if (before && result.eval)
        process.stdout.write(
          `held-out ndcg@10 ${before['ndcg@10'].toFixed(4)} -> ${result.eval['ndcg@10'].toFixed(4)}, recall@5 ${before['recall@5'].toFixed(4)} -> ${result.eval['recall@5'].toFixed(4)}\n`,
        );
    }
  });
}

/** Answer metrics (means) of a RAG pipeline over QA examples. */
async function evalAnswers(
  rag: RagPipeline,
  examples: readonly QaExample[],
  opts: { k: number; generate?: GenerateOptions },
): Promise<Record<string, number>> {
  return (await new AnswerEvaluator(examples).evaluate(rag, opts)).metrics;
}

function generatorCommand(): Command {
  const cmd = new Command('generator')
    .description('fine-tune the generator on retrieved context (answer-only loss, RAFT distractors, full or LoRA)')
    .requiredOption('--qa <file>', 'training QA .jsonl: question, answers[], optional positive_ids')
    .requiredOption('--index <dir>', 'index directory to retrieve training context from')
    .requiredOption(
      '--out <dir>',
      'where to save the generator (full model, or a PEFT adapter with --lora-r and no --merge)',
    )
    .option(
      '--retriever <model>',
      modelHelp('encoder for dense/hybrid retrieval', 'default: the one recorded in the index'),
    )
    .addOption(
      new Option('--mode <mode>', 'retrieval mode for training context').choices([...RETRIEVAL_MODES]).default('bm25'),
    )
    .option('-k, --k <n>', 'passages per example', intArg('-k', 1), 3)
    .option(
      '--gold-share <p>',
      'share of examples with a gold passage among the k (RAFT P)',
      floatArg('--gold-share', 0, 1),
      0.8,
    )
    .option(
      '--counterfactual-share <p>',
      'share of gold examples whose answer is swapped for another, in passage and target (teaches reading)',
      floatArg('--counterfactual-share', 0, 1),
      0,
    )
    .option(
      '--base <model>',
      modelHelp('start from this generator (HF Llama/Qwen2/GPT-2, or a llama-family .gguf file)'),
    )
    .option('--size <size>', `from-scratch size when no --base (${MODEL_SIZES.join(', ')})`, 'small')
    .option('--merge', 'with LoRA: merge the adapter and save a full model')
    .option('--eval-qa <file>', 'held-out QA evaluated (EM/F1) at --eval-every and the end')
    .option('--eval-limit <n>', 'questions of --eval-qa to use', intArg('--eval-limit', 1), 100)
    .option('--model-seed <n>', 'seed of a from-scratch initialisation', intArg('--model-seed'), 0)
    .option('--force', FORCE_OPTION_HELP)
    .option('--json', 'print the final result as JSON');
  addOptions(cmd, TRAIN_LOOP_OPTIONS, DEFAULT_GENERATOR_TRAIN_CONFIG);
  addOptions(cmd, GENERATOR_TRAIN_OPTIONS, DEFAULT_GENERATOR_TRAIN_CONFIG);
  addOptions(cmd, LORA_OPTIONS);
  addOptions(cmd, GENERATE_OPTIONS, { maxNewTokens: 32 });
  cmd.addHelpText(
    'after',
    '\nExamples:\n  dalm train generator --qa train.jsonl --index runs/index --out runs/generator --steps 300\n  dalm train generator --qa train.jsonl --index runs/index --base HuggingFaceTB/SmolLM2-135M-Instruct@main --lora-r 8 --out runs/adapter',
  );
  return cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    await guardOut(String(opts.out), 'model', opts, [opts.qa, opts.index, opts.retriever, opts.base, opts.evalQa]);
    await startEngine(self);
    const qa = await readQaExamples(String(opts.qa));
    const { index, encoder } = await openIndex(String(opts.index), opts.retriever as string | undefined);
    const passages = index.passages();
    const retrieval = index.retrieval(opts.mode as RetrievalMode);
    const examples = await buildRaftExamples(qa, retrieval, new Map(passages.map((p) => [p.id, p])), {
      k: Number(opts.k),
      goldShare: Number(opts.goldShare),
      counterfactualShare: Number(opts.counterfactualShare),
    });
    const gen = opts.base
      ? await loadGenerator(String(opts.base))
      : scratchGenerator(
          [...passages.map((p) => p.text), ...qa.flatMap((q) => [q.question, ...q.answers])],
          checkSize(String(opts.size)),
          Number(opts.modelSeed),
        );
    const loraOpts = readOptions<LoraConfig>(opts, LORA_OPTIONS);
    const lora = loraOpts.r !== undefined ? validateLoraConfig(loraOpts) : null;
    if (lora && !opts.base && !opts.merge)
      throw new Error('--lora-r without --base saves an adapter with no base model on disk: add --base, or --merge');
    const generate = readOptions<GenerateOptions>(opts, GENERATE_OPTIONS);
    const evalQa = opts.evalQa ? (await readQaExamples(String(opts.evalQa))).slice(0, Number(opts.evalLimit)) : null;
    const rag = new RagPipeline(gen.model, gen.tokenizer, gen.format, retrieval);
    const config: Partial<GeneratorTrainConfig> = {
      ...readOptions<TrainLoopConfig>(opts, TRAIN_LOOP_OPTIONS),
      ...readOptions<GeneratorTrainConfig>(opts, GENERATOR_TRAIN_OPTIONS),
      lora,
      quiet: Boolean((self.optsWithGlobals() as { quiet?: boolean }).quiet),
    };
    const evaluate = evalQa
      ? () =>
          evalAnswers(rag, evalQa, {
            k: Number(opts.k),
            generate: { ...generate, maxNewTokens: generate.maxNewTokens ?? 32 },
          })
      : undefined;
    const result = await trainGenerator(gen.model, gen.tokenizer, gen.format, examples, config, { evaluate });
    const out = String(opts.out);
    const format = { ...gen.format, contextTokens: result.contextTokens }; // ask builds prompts to the trained budget
    if (lora && !opts.merge) await saveGeneratorAdapter(out, gen.model, gen.tokenizer, format, lora, String(opts.base));
    else {
      if (lora) mergeLora(gen.model);
      await saveGenerator(out, gen.model, gen.tokenizer, format);
    }
    const summary = {
      out,
      steps: result.steps,
      finalLoss: result.losses.at(-1) ?? null,
      eval: result.eval,
      examples: examples.length,
      withGold: examples.filter((e) => e.hasGold).length,
    };
    gen.model.dispose();
    index.dispose();
    encoder?.dispose();
    if (opts.json) printJson(summary);
    else {
      process.stdout.write(
        `saved generator to ${out} (${summary.examples} examples, ${summary.withGold} with a gold passage)\n`,
      );
      if (result.eval)
        process.stdout.write(
          `held-out exact_match ${result.eval.exact_match.toFixed(4)}, f1 ${result.eval.f1.toFixed(4)}\n`,
        );
    }
  });
}

function lmCommand(): Command {
  const cmd = new Command('lm')
    .description('domain-adaptive language-model pretraining of a generator on the corpus text (before QA fine-tuning)')
    .requiredOption('--corpus <source>', 'documents or passages (.jsonl/.csv, or a directory of .txt/.md)')
    .requiredOption('--out <dir>', 'where to save the generator')
    .option('--base <model>', modelHelp('continue from this generator', 'default: a from-scratch model'))
    .option('--size <size>', `from-scratch size when no --base (${MODEL_SIZES.join(', ')})`, 'small')
    .option('--model-seed <n>', 'seed of a from-scratch initialisation', intArg('--model-seed'), 0)
    .option('--force', FORCE_OPTION_HELP)
    .option('--json', 'print the final result as JSON');
  addOptions(cmd, TRAIN_LOOP_OPTIONS, DEFAULT_LM_TRAIN_CONFIG);
  addOptions(
    cmd,
    GENERATOR_TRAIN_OPTIONS.filter((o) => o.field === 'maxSeqLength'),
    DEFAULT_LM_TRAIN_CONFIG as never,
  );
  cmd.addHelpText(
    'after',
    '\nExamples:\n  dalm train lm --corpus corpus.jsonl --size tiny --out runs/lm --steps 300\n  dalm train generator --qa train.jsonl --index runs/index --base runs/lm --out runs/generator',
  );
  return cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    await guardOut(String(opts.out), 'model', opts, [opts.corpus, opts.base]);
    await startEngine(self);
    const texts = (await corpusPassages(String(opts.corpus))).map((p) => p.text);
    const gen = opts.base
      ? await loadGenerator(String(opts.base))
      : scratchGenerator(texts, checkSize(String(opts.size)), Number(opts.modelSeed));
    const result = await trainLanguageModel(gen.model, gen.tokenizer, texts, {
      ...readOptions<TrainLoopConfig>(opts, TRAIN_LOOP_OPTIONS),
      ...readOptions<LmTrainConfig>(opts, GENERATOR_TRAIN_OPTIONS.filter((o) => o.field === 'maxSeqLength') as never),
      quiet: Boolean((self.optsWithGlobals() as { quiet?: boolean }).quiet),
    });
    await saveGenerator(String(opts.out), gen.model, gen.tokenizer, gen.format);
    gen.model.dispose();
    const summary = { out: opts.out, steps: result.steps, finalLoss: result.losses.at(-1) ?? null };
    if (opts.json) printJson(summary);
    else process.stdout.write(`saved generator to ${opts.out} (final loss ${summary.finalLoss?.toFixed(4)})\n`);
  });
}

function e2eCommand(): Command {
  const cmd = new Command('e2e')
    .description('joint training with the RAG-sequence marginal: the generator likelihood trains the retriever')
    .requiredOption('--qa <file>', 'training QA .jsonl (question, answers[], optional positive_ids)')
    .requiredOption('--corpus <source>', 'passages to retrieve from (.jsonl id/title/text or a documents directory)')
    .requiredOption('--retriever <model>', modelHelp('starting retriever'))
    .requiredOption('--generator <model>', modelHelp('starting generator'))
    .requiredOption('--out <dir>', 'writes <out>/retriever, <out>/generator and <out>/index')
    .option('--eval-qa <file>', 'held-out QA: retrieval and answer metrics at the end')
    .option('--eval-limit <n>', 'questions of --eval-qa used for answer metrics', intArg('--eval-limit', 1), 100)
    .option('--force', FORCE_OPTION_HELP)
    .option('--json', 'print the final result as JSON');
  addOptions(cmd, TRAIN_LOOP_OPTIONS, DEFAULT_E2E_TRAIN_CONFIG);
  addOptions(cmd, E2E_TRAIN_OPTIONS, DEFAULT_E2E_TRAIN_CONFIG);
  cmd.addHelpText(
    'after',
    `
Examples:
  dalm train e2e --qa train.jsonl --corpus corpus.jsonl --retriever runs/retriever --generator runs/generator --out runs/e2e
  dalm train e2e ... --passage-mode reindex --reindex-every 50      # RAG-end2end: the passage tower trains too
  dalm train e2e ... --no-train-generator                            # only the query encoder learns from the generator

With --passage-mode frozen the query encoder is trained against the starting passage vectors; the
saved index is rebuilt with the trained encoder so that queries and passages share one encoder.`,
  );
  return cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    const sources = [opts.qa, opts.corpus, opts.retriever, opts.generator, opts.evalQa];
    for (const sub of ['retriever', 'generator'])
      await guardOut(path.join(String(opts.out), sub), 'model', opts, sources);
    await guardOut(path.join(String(opts.out), 'index'), 'index', opts, sources);
    await startEngine(self);
    const qa = await readQaExamples(String(opts.qa));
    const corpus = await corpusPassages(String(opts.corpus));
    const encoder = await loadEncoder(String(opts.retriever));
    const gen = await loadGenerator(String(opts.generator));
    const config: Partial<E2ETrainConfig> = {
      ...readOptions<TrainLoopConfig>(opts, TRAIN_LOOP_OPTIONS),
      ...readOptions<E2ETrainConfig>(opts, E2E_TRAIN_OPTIONS),
      quiet: Boolean((self.optsWithGlobals() as { quiet?: boolean }).quiet),
    };
    const result = await trainEndToEnd(encoder, gen.model, gen.tokenizer, gen.format, qa, corpus, config, {
      onReindex: (step, ms) =>
        process.stderr.write(`re-indexed ${corpus.length} passages at step ${step} in ${(ms / 1000).toFixed(1)} s\n`),
    });
    result.passages.dispose();
    const out = String(opts.out);
    await encoder.save(path.join(out, 'retriever'));
    if (gen.lora) mergeLora(gen.model);
    await saveGenerator(path.join(out, 'generator'), gen.model, gen.tokenizer, gen.format);
    await buildIndexDir(
      path.join(out, 'index'),
      corpus,
      encoder,
      { denseKind: corpus.length <= 10_000 ? 'exact' : 'hnsw' },
      path.join(out, 'retriever'),
    );
    let evalRetrieval: Record<string, number> | null = null;
    let evalAnswersMetrics: Record<string, number> | null = null;
    if (opts.evalQa) {
      const held = await readQaExamples(String(opts.evalQa));
      evalRetrieval = await evalEncoder(encoder, held, corpus);
      const opened = await openIndex(path.join(out, 'index'));
      const rag = new RagPipeline(gen.model, gen.tokenizer, gen.format, opened.index.retrieval('dense'));
      evalAnswersMetrics = await evalAnswers(rag, held.slice(0, Number(opts.evalLimit)), { k: 3 });
      opened.index.dispose();
      opened.encoder?.dispose();
    }
    const summary = {
      out,
      steps: result.steps,
      finalLoss: result.losses.at(-1) ?? null,
      reindexes: result.reindexes,
      retrieval: evalRetrieval,
      answers: evalAnswersMetrics,
    };
    encoder.dispose();
    gen.model.dispose();
    if (opts.json) printJson(summary);
    else
      process.stdout.write(
        `saved ${out}/retriever, ${out}/generator and ${out}/index (${result.reindexes} re-indexes during training)\n`,
      );
  });
}

export function trainCommand(): Command {
  return new Command('train')
    .description('train a retriever, a generator, or both end to end')
    .addCommand(retrieverCommand())
    .addCommand(lmCommand())
    .addCommand(generatorCommand())
    .addCommand(e2eCommand());
}
