#!/usr/bin/env node
/** Entry point of the `dalm` CLI. Errors print one line (the message) and exit 1; DALM_DEBUG=1 prints the stack. */
import { buildProgram } from './program';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const e = err as Error;
    process.stderr.write(`dalm: error: ${process.env.DALM_DEBUG ? e.stack : e.message}\n`);
    process.exit(1);
  });
