/** `dalm report RUN_DIR`: one self-contained HTML page of a training run or a quickstart output. */
import { Command } from 'commander';
import { writeRunReport, type RunReportOptions } from '@dalm/core';
import { addOptions, readOptions } from '../options';
import { REPORT_OPTIONS } from '../specs';
import { printJson } from '../context';

export function reportCommand(): Command {
  const cmd = new Command('report')
    .description(
      'write an HTML report (loss, learning rate and evaluation curves; before/after tables; examples) of a run directory',
    )
    .argument(
      '<run-dir>',
      'a --run-dir of `dalm train` (metrics.jsonl), or a quickstart --out (report.json, runs/*/metrics.jsonl)',
    )
    .option('--json', 'print the path and what the report holds as JSON');
  addOptions(cmd, REPORT_OPTIONS);
  cmd.addHelpText(
    'after',
    '\nExamples:\n  dalm report runs/quickstart                 # writes runs/quickstart/report.html\n  dalm report runs/train-retriever --out /tmp/retriever.html\n\nThe page opens from disk with no network (Chart.js is inlined).',
  );
  return cmd.action(async (runDir: string, opts: Record<string, unknown>) => {
    const { file, data } = await writeRunReport(runDir, readOptions<RunReportOptions>(opts, REPORT_OPTIONS));
    if (opts.json) {
      printJson({
        file,
        runs: data.runs.map((r) => ({
          name: r.name,
          file: r.file,
          steps: r.steps.length,
          evals: r.evals.length,
          events: r.events.length,
        })),
        tables: data.tables.map((t) => ({ title: t.title, source: t.source, rows: t.rows.map((r) => r.key) })),
        examples: data.examples.length,
      });
    } else process.stdout.write(file + '\n');
  });
}
