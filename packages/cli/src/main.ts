#!/usr/bin/env node
/** Entry point of the `dalm` CLI. Errors print one line (the message) and exit 1; DALM_DEBUG=1 prints the stack. */
import { buildProgram } from './program';

/** A hint for errors whose message alone does not say what to do. */
export function errorHint(message: string): string {
  if (message.includes('Aborted(')) {
    return ' (the wasm backend aborted, most often out of its 4 GB memory: lower --batch-size or --max-seq-length, or set --grad-cache-chunk for retriever training)';
  }
  return '';
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const e = err as Error;
    process.stderr.write(`dalm: error: ${process.env.DALM_DEBUG ? e.stack : e.message}${errorHint(String(e?.message))}\n`);
    process.exit(1);
  });
