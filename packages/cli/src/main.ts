#!/usr/bin/env node
/** Entry point of the `dalm` CLI. Errors print one line (the message) and exit 1; DALM_DEBUG=1 prints the stack. */
import { buildProgram } from './program';

/** A hint for errors whose message alone does not say what to do. */
export function errorHint(message: string): string {
  if (message.includes('ran out of memory')) return ''; // an OutOfMemoryError already says what to lower
  if (/Aborted\(|table index is out of bounds|memory access out of bounds/.test(message)) {
    return ' (the wasm backend failed, most often out of its 4 GiB memory: lower --batch-size or --max-seq-length, set --grad-cache-chunk for retriever training, or use --gradient-checkpointing on)';
  }
  return '';
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const e = err as Error;
    process.stderr.write(
      `dalm: error: ${process.env.DALM_DEBUG ? e.stack : e.message}${errorHint(String(e?.message))}\n`,
    );
    process.exit(1);
  });
