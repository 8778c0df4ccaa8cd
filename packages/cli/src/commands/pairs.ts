/** `dalm pairs`: prepare retriever training pairs (a dataset file; training only reads it). */
import { Command, Option } from 'commander';
import { intArg, floatArg } from '../options';
import { Bm25Index, loadEncoder, ExactIndex } from '@dalm/retriever';
import {
  ictPairs,
  mineHardNegatives,
  pairsFromQa,
  qaCoverageNote,
  readPairs,
  readQaExamples,
  writePairs,
  type TrainingPair,
} from '@dalm/trainer';
import { corpusPassages, printJson, startEngine } from '../context';
import { modelHelp } from '../specs';

export function pairsCommand(): Command {
  return new Command('pairs')
    .description(
      'prepare retriever training pairs: from labelled QA, a labelled pairs file, or self-supervised ICT; optionally mine hard negatives',
    )
    .requiredOption('--out <file>', 'pairs .jsonl to write')
    .option('--qa <file>', 'QA .jsonl with question and positive_ids (e.g. COVID-QA train.jsonl); needs --corpus')
    .option('--corpus <source>', 'passages (.jsonl with id/title/text, or a directory of documents)')
    .option('--labelled <file>', 'a .jsonl/.csv file of (query, positive[, negatives]) pairs')
    .option('--query-field <name>', 'query column of --labelled', 'query')
    .option('--positive-field <name>', 'positive column of --labelled', 'positive')
    .option('--ict', 'Inverse Cloze Task pairs from --corpus (no labels needed)')
    .option(
      '--ict-remove-rate <p>',
      'share of ICT pairs whose positive has the query sentence removed',
      floatArg('--ict-remove-rate', 0, 1),
      0.9,
    )
    .addOption(
      new Option('--negatives-from <kind>', 'mine hard negatives with BM25 or the dense model of --retriever')
        .choices(['none', 'bm25', 'dense'])
        .default('none'),
    )
    .option('--retriever <model>', modelHelp('encoder for --negatives-from dense'))
    .option('--hard-negatives <n>', 'negatives kept per pair', intArg('--hard-negatives'), 1)
    .option('--depth <n>', 'candidates searched per query', intArg('--depth', 1), 30)
    .option(
      '--margin <m>',
      'false-negative filter: skip candidates scoring above (1 - m) x the positive',
      floatArg('--margin', 0, 1),
      0.05,
    )
    .option('--json', 'print a JSON summary')
    .addHelpText(
      'after',
      `
Examples:
  dalm pairs --qa train.jsonl --corpus corpus.jsonl --negatives-from bm25 --out runs/pairs.jsonl
  dalm pairs --ict --corpus docs/ --out runs/ict-pairs.jsonl`,
    )
    .action(async (opts: Record<string, unknown>, self: Command) => {
      await startEngine(self);
      const corpus = opts.corpus ? await corpusPassages(String(opts.corpus)) : [];
      let pairs: TrainingPair[];
      let positives = new Map<string, Set<string>>();
      let note = '';
      if (opts.qa) {
        if (!opts.corpus) throw new Error('--qa needs --corpus (the passages its positive_ids name)');
        const made = pairsFromQa(
          await readQaExamples(String(opts.qa), { requireAnswers: false }),
          corpus,
          `${opts.qa} (corpus ${opts.corpus})`,
        );
        ({ pairs, positives } = made);
        note = qaCoverageNote(made);
      } else if (opts.labelled) {
        pairs = await readPairs(String(opts.labelled), {
          queryField: String(opts.queryField),
          positiveField: String(opts.positiveField),
        });
      } else if (opts.ict) {
        if (!corpus.length) throw new Error('--ict needs --corpus');
        pairs = ictPairs(corpus, { removeRate: Number(opts.ictRemoveRate) });
      } else throw new Error('give one of --qa, --labelled or --ict');
      if (opts.negativesFrom !== 'none') {
        const pool = corpus.length
          ? corpus
          : pairs.map((p, i) => ({
              id: p.positiveId ?? `p${i}`,
              text: p.positive,
              source: 'pairs',
              start: 0,
              end: p.positive.length,
            }));
        let retrieval: Bm25Index | ExactIndex;
        let encoder = null;
        if (opts.negativesFrom === 'bm25') retrieval = Bm25Index.build(pool);
        else {
          if (!opts.retriever) throw new Error('--negatives-from dense needs --retriever');
          encoder = await loadEncoder(String(opts.retriever));
          retrieval = await ExactIndex.build(encoder, pool);
        }
        pairs = await mineHardNegatives(
          pairs,
          retrieval,
          { count: Number(opts.hardNegatives), depth: Number(opts.depth), margin: Number(opts.margin) },
          (p) => positives.get(p.query) ?? new Set(p.positiveId ? [p.positiveId] : []),
        );
        if ('dispose' in retrieval) retrieval.dispose();
        encoder?.dispose();
      }
      await writePairs(String(opts.out), pairs);
      const withNeg = pairs.filter((p) => p.negatives?.length).length;
      if (opts.json)
        printJson({ out: opts.out, pairs: pairs.length, withNegatives: withNeg, ...(note ? { note } : {}) });
      else
        process.stdout.write(
          `wrote ${pairs.length} pairs (${withNeg} with hard negatives) to ${opts.out}${note ? ` (${note})` : ''}\n`,
        );
    });
}
