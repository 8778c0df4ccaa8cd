/**
 * Bench runner: `pnpm bench <name> [--option=value ...]` (i.e. `tsx bench/run.ts <name> ...`).
 * Each bench is a module in this directory exporting `main(argv: string[]): Promise<void>`.
 */

/** Registered benches; add one line per bench module. */
const BENCHES: Record<string, () => Promise<{ main: (argv: string[]) => Promise<void> }>> = {
  engine: () => import('./engine'),
  retriever: () => import('./retriever'),
  generator: () => import('./generator'),
  memory: () => import('./memory'),
  serve: () => import('./serve'),
};

async function run(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const names = Object.keys(BENCHES).join(', ');
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(`usage: pnpm bench <name> [--option=value ...]\nbenches: ${names}`);
    return;
  }
  const load = BENCHES[name];
  if (load === undefined) throw new Error(`bench: unknown bench '${name}'; available: ${names}`);
  const bench = await load();
  await bench.main(rest);
}

run(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
