/** `dalm index`: documents -> passages -> BM25 (+ dense with a retriever) in an index directory. */
import { Command, Option } from 'commander';
import { buildIndexDir, loadPassages, loadRetriever, type ChunkConfig, type IndexConfig, type Bm25Config } from '@dalm/retriever';
import { addOptions, readOptions } from '../options';
import { BM25_OPTIONS, CHUNK_OPTIONS, HNSW_OPTIONS, RUNTIME_OPTIONS } from '../specs';
import { printJson, runtimeOption, startEngine } from '../context';

export function indexCommand(): Command {
  const cmd = new Command('index')
    .description('chunk documents into passages and build a BM25 index, plus a dense HNSW index when --retriever is given')
    .argument('<source>', 'a directory of .txt/.md files, or a .jsonl/.csv file')
    .requiredOption('--out <dir>', 'index directory to write (replaced atomically)')
    .option('--retriever <dir>', 'encoder directory for the dense index')
    .option('--fields <id,text,title>', 'column names of the id, text and title in a .jsonl/.csv source', 'id,text,title')
    .addOption(new Option('--dense-kind <kind>', 'HNSW (approximate) or exact search').choices(['hnsw', 'exact']).default('hnsw'))
    .option('--json', 'print a JSON summary');
  addOptions(cmd, CHUNK_OPTIONS, { maxTokens: 200, overlap: 20 });
  addOptions(cmd, HNSW_OPTIONS, { metric: 'cosine', M: 16, efConstruction: 200 });
  addOptions(cmd, BM25_OPTIONS, { k1: 0.9, b: 0.4 });
  addOptions(cmd, RUNTIME_OPTIONS, { runtime: 'auto' });
  cmd.addHelpText(
    'after',
    `
Examples:
  dalm index docs/ --out runs/index                                  # BM25 only
  dalm index docs/ --out runs/index --retriever runs/retriever       # BM25 + dense
  dalm index docs/ --out runs/index --retriever runs/retriever --runtime tfjs   # embed on tfjs, not ONNX Runtime
  dalm index corpus.jsonl --out runs/index --chunk-tokens 0 --retriever runs/retriever   # one passage per record`,
  );
  return cmd.action(async (source: string, opts: Record<string, unknown>, self: Command) => {
    await startEngine(self);
    const [idField, textField, titleField] = String(opts.fields).split(',');
    if (!idField || !textField) throw new Error(`--fields expects "id,text[,title]", got "${opts.fields}"`);
    const chunk = readOptions<ChunkConfig>(opts, CHUNK_OPTIONS);
    const encoder = opts.retriever ? await loadRetriever(String(opts.retriever), { runtime: runtimeOption(opts) }) : null;
    const t0 = Date.now();
    const passages = await loadPassages(source, {
      fields: { idField, textField, titleField: titleField || null },
      chunk: chunk.maxTokens === 0 ? null : chunk,
      tokenizer: encoder?.tokenizer ?? null,
    });
    const out = String(opts.out);
    const { dense } = await buildIndexDir(
      out,
      passages,
      encoder,
      { denseKind: opts.denseKind as 'hnsw' | 'exact', dense: readOptions<IndexConfig>(opts, HNSW_OPTIONS), bm25: readOptions<Bm25Config>(opts, BM25_OPTIONS) },
      opts.retriever ? String(opts.retriever) : undefined,
    );
    const summary = { out, passages: passages.length, dense: dense ? dense.kind : null, fingerprint: encoder?.fingerprint ?? null, seconds: (Date.now() - t0) / 1000 };
    dense?.dispose();
    encoder?.dispose();
    if (opts.json) printJson(summary);
    else process.stdout.write(`indexed ${summary.passages} passages into ${out} (bm25${summary.dense ? ` + dense ${summary.dense}` : ''}) in ${summary.seconds.toFixed(1)} s\n`);
  });
}

