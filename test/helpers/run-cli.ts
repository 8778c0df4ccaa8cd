/**
 * Runs the `dalm` command tree in-process (cpu backend, no progress display) and returns what it
 * printed on stdout; errors are thrown, as the binary would print them. `quietStderr` also swallows
 * warnings written to stderr.
 */
import { vi } from 'vitest';
import { buildProgram } from '@dalm/cli';

export async function runCli(args: string[], opts: { quietStderr?: boolean } = {}): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const err = opts.quietStderr ? vi.spyOn(process.stderr, 'write').mockImplementation(() => true) : null;
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(['node', 'dalm', '--quiet', '--backend', 'cpu', ...args]);
  } finally {
    spy.mockRestore();
    err?.mockRestore();
  }
  return out;
}
