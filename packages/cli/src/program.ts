/** The `dalm` command tree. */
import { Command, Option } from 'commander';
import { BACKEND_CHOICES } from '@dalm/core';
import { doctorCommand } from './commands/doctor';
import { indexCommand } from './commands/index-cmd';
import { searchCommand } from './commands/search';
import { pairsCommand } from './commands/pairs';
import { trainCommand } from './commands/train';
import { evalCommand } from './commands/eval';
import { askCommand } from './commands/ask';
import { serveCommand } from './commands/serve';
import { quickstartCommand } from './commands/quickstart';
import { qaGenCommand } from './commands/qa-gen';
import { exportCommand } from './commands/export';
import { reportCommand } from './commands/report';
import { tuneCommand } from './commands/tune';

export function buildProgram(): Command {
  const program = new Command('dalm')
    .description(
      'Domain-adapted retrieval-augmented generation: train a retriever and a generator on your corpus, index it, ask it.',
    )
    .addOption(
      new Option('--backend <name>', 'tensor backend (default: $DALM_BACKEND or auto)').choices(
        BACKEND_CHOICES as string[],
      ),
    )
    .option('--quiet', 'no progress display')
    .showHelpAfterError()
    .hook('preAction', (cmd) => {
      if (cmd.opts().quiet) process.env.DALM_PROGRESS = '0';
    });
  program.addCommand(doctorCommand());
  program.addCommand(indexCommand());
  program.addCommand(searchCommand());
  program.addCommand(pairsCommand());
  program.addCommand(trainCommand());
  program.addCommand(evalCommand());
  program.addCommand(tuneCommand());
  program.addCommand(askCommand());
  program.addCommand(serveCommand());
  program.addCommand(qaGenCommand());
  program.addCommand(exportCommand());
  program.addCommand(quickstartCommand());
  program.addCommand(reportCommand());
  return program;
}
