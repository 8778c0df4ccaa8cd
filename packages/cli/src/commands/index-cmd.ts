/** `dalm index`: documents -> passages -> BM25 (+ dense with a retriever) in an index directory. */
import { Command, Option } from 'commander';
import {
  DEFAULT_BM25_CONFIG,
  DEFAULT_CHUNK_CONFIG,
  DEFAULT_HNSW_INDEX_CONFIG,
  buildIndexDir,
  loadPassages,
  loadRetriever,
  type ChunkConfig,
  type HnswIndexConfig,
  type Bm25Config,
} from '@dalm/retriever';
import { addOptions, readOptions } from '../options';
import { BM25_OPTIONS, CHUNK_OPTIONS, HNSW_OPTIONS, modelHelp, RUNTIME_OPTIONS } from '../specs';
import { FORCE_OPTION_HELP, guardOut, openIndex, printJson, runtimeOption, startEngine } from '../context';

export function indexCommand(): Command {
  const cmd = new Command('index')
    .description(
      'chunk documents into passages and build a BM25 index, plus a dense HNSW index when --retriever is given',
    )
    .argument('<source>', 'a directory of .txt/.md files, or a .jsonl/.csv file')
    .option('--out <dir>', 'index directory to write (required; replaced atomically)')
    .option('--retriever <model>', modelHelp('encoder for the dense index'))
    .option(
      '--fields <id,text,title>',
      'column names of the id, text and title in a .jsonl/.csv source (default: id,text,title; a BEIR "_id" is detected)',
    )
    .option('--strict', 'refuse binary files and invalid UTF-8 instead of skipping / warning')
    .addOption(
      new Option('--dense-kind <kind>', 'HNSW (approximate) or exact search')
        .choices(['hnsw', 'exact'])
        .default('hnsw'),
    )
    .option('--force', FORCE_OPTION_HELP)
    .option('--json', 'print a JSON summary');
  addOptions(cmd, CHUNK_OPTIONS, DEFAULT_CHUNK_CONFIG);
  addOptions(cmd, HNSW_OPTIONS, DEFAULT_HNSW_INDEX_CONFIG);
  addOptions(cmd, BM25_OPTIONS, DEFAULT_BM25_CONFIG);
  addOptions(cmd, RUNTIME_OPTIONS, { runtime: 'auto' });
  cmd.addHelpText(
    'after',
    `
Examples:
  dalm index docs/ --out runs/index                                  # BM25 only
  dalm index docs/ --out runs/index --retriever runs/retriever       # BM25 + dense
  dalm index docs/ --out runs/index --retriever runs/retriever --runtime tfjs   # embed on tfjs, not ONNX Runtime
  dalm index corpus.jsonl --out runs/index --chunk-tokens 0 --retriever runs/retriever   # one passage per record
  dalm index docs/ --out runs/index --retriever sentence-transformers/all-MiniLM-L6-v2  # a Hub model, cached in ~/.cache/huggingface`,
  );
  cmd.addCommand(indexAddCommand());
  cmd.addCommand(indexRemoveCommand());
  return cmd.action(async (source: string, opts: Record<string, unknown>, self: Command) => {
    // Not a commander requiredOption: that would also be demanded of `index add` / `index remove`.
    if (opts.out === undefined) throw new Error("required option '--out <dir>' not specified");
    await guardOut(String(opts.out), 'index', opts, [source, opts.retriever]);
    await startEngine(self);
    let fields = {};
    if (opts.fields !== undefined) {
      const [idField, textField, titleField] = String(opts.fields).split(',');
      if (!idField || !textField) throw new Error(`--fields expects "id,text[,title]", got "${opts.fields}"`);
      fields = { idField, textField, titleField: titleField || null };
    }
    const chunk = readOptions<ChunkConfig>(opts, CHUNK_OPTIONS);
    const encoder = opts.retriever
      ? await loadRetriever(String(opts.retriever), { runtime: runtimeOption(opts) })
      : null;
    const t0 = Date.now();
    const passages = await loadPassages(source, {
      fields,
      ingest: { strict: Boolean(opts.strict) },
      chunk: chunk.maxTokens === 0 ? null : chunk,
      tokenizer: encoder?.tokenizer ?? null,
    });
    const out = String(opts.out);
    const { dense } = await buildIndexDir(
      out,
      passages,
      encoder,
      {
        denseKind: opts.denseKind as 'hnsw' | 'exact',
        dense: readOptions<HnswIndexConfig>(opts, HNSW_OPTIONS),
        bm25: readOptions<Bm25Config>(opts, BM25_OPTIONS),
      },
      opts.retriever ? String(opts.retriever) : undefined,
    );
    const summary = {
      out,
      passages: passages.length,
      dense: dense ? dense.kind : null,
      fingerprint: encoder?.fingerprint ?? null,
      seconds: (Date.now() - t0) / 1000,
    };
    dense?.dispose();
    encoder?.dispose();
    if (opts.json) printJson(summary);
    else
      process.stdout.write(
        `indexed ${summary.passages} passages into ${out} (bm25${summary.dense ? ` + dense ${summary.dense}` : ''}) in ${summary.seconds.toFixed(1)} s\n`,
      );
  });
}

/** `dalm index add DIR SOURCE`: new or changed passages into an existing index, BM25 and dense together. */
function indexAddCommand(): Command {
  const cmd = new Command('add')
    .description(
      'add documents to an index directory (passages whose id exists are replaced); BM25 and dense are written in one atomic swap',
    )
    .argument('<dir>', 'an index directory written by `dalm index`')
    .argument('<source>', 'a directory of .txt/.md files, or a .jsonl/.csv file')
    .option('--retriever <dir>', 'encoder of the dense index (default: the one recorded in the index)')
    .option('--strict', 'refuse binary files and invalid UTF-8 instead of skipping / warning')
    .option('--json', 'print a JSON summary');
  addOptions(cmd, CHUNK_OPTIONS, DEFAULT_CHUNK_CONFIG);
  cmd.addHelpText(
    'after',
    '\nExamples:\n  dalm index add runs/index new-docs/\n  dalm index add runs/index updates.jsonl --chunk-tokens 0',
  );
  return cmd.action(async (dir: string, source: string, _opts: Record<string, unknown>, self: Command) => {
    const o = subcommandOptions(self);
    await startEngine(self);
    const { index, encoder } = await openIndex(dir, o.retriever as string | undefined);
    try {
      const chunk = readOptions<ChunkConfig>(o, CHUNK_OPTIONS);
      const passages = await loadPassages(source, {
        chunk: chunk.maxTokens === 0 ? null : chunk,
        tokenizer: encoder?.tokenizer ?? null,
        ingest: { strict: Boolean(o.strict) },
      });
      const r = await index.add(passages);
      await index.save();
      const summary = { dir, ...r, passages: index.passages().length };
      if (o.json) printJson(summary);
      else
        process.stdout.write(
          `added ${r.added} and replaced ${r.replaced} passages in ${dir} (${summary.passages} in all)\n`,
        );
    } finally {
      index.dispose();
      encoder?.dispose();
    }
  });
}

/** `dalm index remove DIR ID...`: passages out of an index, BM25 and dense together. */
function indexRemoveCommand(): Command {
  return new Command('remove')
    .description('remove passages by id from an index directory; BM25 and dense are written in one atomic swap')
    .argument('<dir>', 'an index directory written by `dalm index`')
    .argument('<ids...>', 'passage ids to remove')
    .option('--retriever <dir>', 'encoder of the dense index (default: the one recorded in the index)')
    .option('--json', 'print a JSON summary')
    .addHelpText('after', '\nExamples:\n  dalm index remove runs/index notes/old.md#0 notes/old.md#1')
    .action(async (dir: string, ids: string[], _opts: Record<string, unknown>, self: Command) => {
      const o = subcommandOptions(self);
      await startEngine(self);
      const { index, encoder } = await openIndex(dir, o.retriever as string | undefined);
      try {
        const removed = index.remove(ids);
        const missing = ids.length - removed;
        if (removed === 0)
          throw new Error(`index ${dir}: none of the ${ids.length} ids is in the index; nothing removed`);
        await index.save();
        const summary = { dir, removed, missing, passages: index.passages().length };
        if (o.json) printJson(summary);
        else
          process.stdout.write(
            `removed ${removed} passages from ${dir}${missing ? ` (${missing} ids were not in the index)` : ''}; ${summary.passages} left\n`,
          );
      } finally {
        index.dispose();
        encoder?.dispose();
      }
    });
}

/**
 * Options of `index add|remove`. Commander lets the parent `index` parse options anywhere on the line,
 * so an option both define (`--json`, `--retriever`, `--chunk-tokens`) given after `add` lands on the
 * parent: take each option from whichever command the user actually set it on.
 */
function subcommandOptions(self: Command): Record<string, unknown> {
  const own = self.opts();
  const parent = self.parent;
  if (!parent) return own;
  const merged: Record<string, unknown> = { ...own };
  for (const [key, value] of Object.entries(parent.opts())) {
    if (parent.getOptionValueSource(key) === 'cli' && self.getOptionValueSource(key) !== 'cli') merged[key] = value;
  }
  return merged;
}
