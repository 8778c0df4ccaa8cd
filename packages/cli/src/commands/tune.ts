/** `dalm tune fusion`: choose the hybrid fusion of an index on validation questions; store it in fusion.json. */
import { Command } from 'commander';
import { FUSION_FILE, tuneFusion, writeFusionFile, type FusionChoice, type FusionTuneConfig } from '@dalm/retriever';
import { qrelsFromQa, readQaExamples } from '@dalm/trainer';
import { addOptions, readOptions } from '../options';
import { FUSION_TUNE_OPTIONS } from '../specs';
import { openIndex, printJson, startEngine } from '../context';

/** The tuning result for the terminal: the best point per method, the endpoints and the choice. */
export function formatFusionChoice(c: FusionChoice, file: string | null): string {
  const lines = [
    `validation: ${c.validation.queries} queries${c.validation.skipped ? ` (${c.validation.skipped} left out)` : ''}; metric ${c.metric}`,
  ];
  lines.push(`  bm25 alone    ${c.validation.bm25.toFixed(4)}`, `  dense alone   ${c.validation.dense.toFixed(4)}`);
  for (const m of [...new Set(c.grid.map((g) => g.method))]) {
    const best = c.grid.filter((g) => g.method === m).reduce((a, b) => (b.score > a.score ? b : a));
    lines.push(
      `  best ${m.padEnd(8)} ${best.score.toFixed(4)}  (dense ${best.weights.dense}, bm25 ${+best.weights.bm25.toFixed(6)})`,
    );
  }
  const h = c.hybrid;
  lines.push(
    `chosen: ${h.method}, dense ${h.weights.dense} / bm25 ${+h.weights.bm25.toFixed(6)}${h.method === 'rrf' ? `, k ${h.k}` : ''} → ${c.metric} ${c.validation.score.toFixed(4)}`,
  );
  lines.push(file ? `wrote ${file}` : '(not saved: --no-save)');
  return lines.join('\n');
}

function fusionCommand(): Command {
  const cmd = new Command('fusion')
    .description(
      'choose the hybrid fusion (RRF or a convex combination of min-max / z-score normalised scores, weights on a grid) by nDCG@10 on validation questions, and store it in the index as fusion.json',
    )
    .requiredOption('--index <dir>', 'index directory (BM25 + dense)')
    .requiredOption(
      '--qa <file>',
      'validation questions with positive_ids (.jsonl); never the test questions you report on',
    )
    .option('--retriever <dir>', 'encoder (default: the one recorded in the index)')
    .option('--no-save', 'print the choice without writing fusion.json')
    .option('--json', 'print the whole choice (grid included) as JSON');
  addOptions(cmd, FUSION_TUNE_OPTIONS, {
    methods: ['rrf', 'minmax', 'zscore'],
    denseWeights: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
    rrfK: 60,
    candidates: 100,
  });
  cmd.addHelpText(
    'after',
    `
Examples:
  dalm tune fusion --index runs/index --qa validation.jsonl
  dalm tune fusion --index runs/index --qa validation.jsonl --methods rrf --dense-weights 0.2,0.5,0.8 --json

The grid always includes dense weight 0 (BM25 alone) and 1 (dense alone), so the chosen fusion
is never worse than the better single system on these questions. \`dalm search\`, \`eval\` and
\`ask\` use ${FUSION_FILE} in hybrid mode unless --fusion / --dense-weight / --bm25-weight / --rrf-k is given.`,
  );
  return cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    await startEngine(self);
    const indexDir = String(opts.index);
    const { index, encoder } = await openIndex(indexDir, opts.retriever as string | undefined);
    if (!index.dense)
      throw new Error(
        `index ${indexDir}: tuning the fusion needs a dense index and its retriever (build with --retriever, or give --retriever)`,
      );
    const { queries, qrels } = qrelsFromQa(await readQaExamples(String(opts.qa)));
    let choice: FusionChoice;
    try {
      choice = await tuneFusion(
        index.dense,
        index.bm25,
        queries,
        qrels,
        readOptions<FusionTuneConfig>(opts, FUSION_TUNE_OPTIONS),
        { passageIds: index.passages().map((p) => p.id) },
      );
    } catch (e) {
      throw new Error(`${String(opts.qa)}: ${(e as Error).message}`);
    }
    index.dispose();
    encoder?.dispose();
    const file = opts.save === false ? null : await writeFusionFile(indexDir, choice);
    if (opts.json) printJson({ file, ...choice });
    else process.stdout.write(formatFusionChoice(choice, file) + '\n');
  });
}

export function tuneCommand(): Command {
  return new Command('tune').description('tune settings on validation data').addCommand(fusionCommand());
}
