/** `dalm qa-gen`: QA pairs and ICT pairs from unlabelled documents, split by document. */
import { Command } from 'commander';
import { intArg, floatArg } from '../options';
import path from 'node:path';
import { loadPassages, writePassages } from '@dalm/retriever';
import { loadGenerator } from '@dalm/generator';
import {
  clozeQuestions,
  generateQuestions,
  ictPairs,
  splitByDocument,
  writePairs,
  writeQaExamples,
  type QaExample,
} from '@dalm/trainer';
import { printJson, startEngine } from '../context';
import { modelHelp } from '../specs';

export function qaGenCommand(): Command {
  return new Command('qa-gen')
    .description(
      'make training data from raw documents: questions (written by a generator model, or cloze) and ICT pairs, held out by document',
    )
    .requiredOption('--corpus <source>', 'documents: a directory of .txt/.md, or a .jsonl/.csv file')
    .requiredOption(
      '--out <dir>',
      'writes passages.jsonl, train.jsonl, eval.jsonl (QA with positive_ids) and ict-pairs.jsonl',
    )
    .option(
      '--generator <model>',
      modelHelp('a decoder that writes the questions', 'default: cloze questions, no model needed'),
    )
    .option('--prompt-template <text>', 'question-writing prompt with {passage} (and optionally {title})')
    .option('--per-passage <n>', 'questions per passage', intArg('--per-passage', 1), 1)
    .option(
      '--temperature <t>',
      'sampling temperature of the question writer (0: greedy)',
      floatArg('--temperature', 0),
      0,
    )
    .option('--chunk-tokens <n>', 'passage length in tokens (0: one passage per record)', intArg('--chunk-tokens'), 200)
    .option('--eval-share <p>', 'share of documents held out for evaluation', floatArg('--eval-share', 0, 1), 0.1)
    .option('--seed <n>', 'seed of the split and the sampling', intArg('--seed'), 17)
    .option('--json', 'print a JSON summary')
    .addHelpText(
      'after',
      `
Examples:
  dalm qa-gen --corpus docs/ --out runs/data                              # cloze questions + ICT pairs
  dalm qa-gen --corpus docs/ --out runs/data --generator models/llama     # questions written by a model, filtered`,
    )
    .action(async (opts: Record<string, unknown>, self: Command) => {
      await startEngine(self);
      const chunkTokens = Number(opts.chunkTokens);
      const passages = await loadPassages(String(opts.corpus), {
        chunk: chunkTokens === 0 ? null : { maxTokens: chunkTokens, overlap: 20 },
      });
      const { train, eval: held } = splitByDocument(passages, {
        evalShare: Number(opts.evalShare),
        seed: Number(opts.seed),
      });
      const rejected: Record<string, number> = {};
      const makeQuestions = async (ps: typeof passages): Promise<QaExample[]> => {
        if (!opts.generator)
          return clozeQuestions(ps, { perPassage: Number(opts.perPassage), seed: Number(opts.seed) });
        const gen = await loadGenerator(String(opts.generator));
        try {
          const r = await generateQuestions(gen.model, gen.tokenizer, ps, {
            perPassage: Number(opts.perPassage),
            temperature: Number(opts.temperature),
            seed: Number(opts.seed),
            ...(opts.promptTemplate ? { promptTemplate: String(opts.promptTemplate) } : {}),
          });
          for (const [k, v] of Object.entries(r.rejected)) rejected[k] = (rejected[k] ?? 0) + (v as number);
          return r.examples;
        } finally {
          gen.model.dispose();
        }
      };
      const trainQa = await makeQuestions(train);
      const evalQa = await makeQuestions(held);
      const out = String(opts.out);
      await writePassages(path.join(out, 'passages.jsonl'), passages);
      await writeQaExamples(path.join(out, 'train.jsonl'), trainQa);
      await writeQaExamples(path.join(out, 'eval.jsonl'), evalQa);
      const ict = ictPairs(train, { seed: Number(opts.seed) });
      await writePairs(path.join(out, 'ict-pairs.jsonl'), ict);
      const summary = {
        out,
        passages: passages.length,
        trainPassages: train.length,
        evalPassages: held.length,
        trainQuestions: trainQa.length,
        evalQuestions: evalQa.length,
        ictPairs: ict.length,
        rejected,
      };
      if (opts.json) printJson(summary);
      else {
        process.stdout.write(
          `${passages.length} passages (${held.length} held out by document); ${trainQa.length} training and ${evalQa.length} evaluation questions; ${ict.length} ICT pairs -> ${out}\n`,
        );
        if (Object.keys(rejected).length)
          process.stdout.write(`rejected generated questions: ${JSON.stringify(rejected)}\n`);
      }
    });
}
