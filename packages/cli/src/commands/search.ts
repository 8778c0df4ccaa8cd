/** `dalm search`: query an index directory (dense, BM25 or hybrid). */
import { Command, Option } from 'commander';
import { RETRIEVAL_MODES, type RetrievalMode } from '@dalm/retriever';
import { addOptions, readOptions, intArg } from '../options';
import { HYBRID_OPTIONS, hybridConfig, type HybridCliConfig, modelHelp, RUNTIME_OPTIONS } from '../specs';
import { openIndex, printJson, runtimeOption, startEngine } from '../context';

export function searchCommand(): Command {
  const cmd = new Command('search')
    .description('search an index directory')
    .argument('<index>', 'index directory')
    .argument('<query>', 'the query')
    .option('-k, --k <n>', 'number of passages', intArg('-k', 1), 10)
    .addOption(
      new Option('--mode <mode>', 'retrieval mode (default: hybrid when a dense index exists, else bm25)').choices([
        ...RETRIEVAL_MODES,
      ]),
    )
    .option('--retriever <model>', modelHelp('encoder', 'default: the one recorded in the index'))
    .option('--json', 'print JSON');
  addOptions(cmd, HYBRID_OPTIONS, { rrfK: 60, denseWeight: 1, bm25Weight: 1 });
  addOptions(cmd, RUNTIME_OPTIONS, { runtime: 'auto' });
  cmd.addHelpText(
    'after',
    '\nExamples:\n  dalm search runs/index "incubation period of SARS-CoV-2"\n  dalm search runs/index "ACE2 receptor" --mode dense -k 5 --json\n  dalm search runs/index "ACE2 receptor" --fusion minmax --dense-weight 0.3 --bm25-weight 0.7\n\nHybrid mode uses the index\'s fusion.json (from `dalm tune fusion`) unless fusion options are given.',
  );
  return cmd.action(async (indexDir: string, query: string, opts: Record<string, unknown>, self: Command) => {
    if (query.trim() === '') throw new Error('the query is empty: give the text to search for');
    await startEngine(self);
    const { index, encoder } = await openIndex(indexDir, opts.retriever as string | undefined, runtimeOption(opts));
    const mode = (opts.mode as RetrievalMode | undefined) ?? (index.dense ? 'hybrid' : 'bm25');
    const hybrid = index.hybridConfig(hybridConfig(readOptions<HybridCliConfig>(opts, HYBRID_OPTIONS)));
    const hits = await index.retrieval(mode, hybrid.config).search(query, { k: Number(opts.k) });
    if (opts.json)
      printJson({
        query,
        mode,
        ...(mode === 'hybrid' ? { fusion: { source: hybrid.source, ...hybrid.config } } : {}),
        hits: hits.map((h) => ({
          id: h.id,
          score: h.score,
          source: h.passage.source,
          title: h.passage.title,
          text: h.passage.text,
        })),
      });
    else {
      hits.forEach((h, i) => {
        const snippet = h.passage.text.replace(/\s+/g, ' ').slice(0, 160);
        process.stdout.write(
          `${String(i + 1).padStart(2)}. [${h.id}] ${h.score.toFixed(4)}  ${h.passage.source}\n    ${snippet}${h.passage.text.length > 160 ? '…' : ''}\n`,
        );
      });
    }
    index.dispose();
    encoder?.dispose();
  });
}
