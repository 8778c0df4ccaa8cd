/**
 * From a user's documents to passages in one call: load (directory of .txt/.md, .jsonl, .csv),
 * then chunk by tokens with overlap — or keep each record whole as one passage (`chunk: null`),
 * which preserves record ids (needed when relevance labels name them, as COVID-QA's do).
 */
import type { IngestOptions } from './text-decode';
import type { Tokenizer } from '@dalm/core';
import { loadDocuments, type RecordFields } from './ingest';
import { chunkDocuments, wordTokenCounter, type ChunkConfig, type TokenCounter } from './chunk';
import type { Passage } from './passage';

/** A TokenCounter from a tokenizer's character offsets (word counting when it has none). */
export function tokenizerCounter(tokenizer: Tokenizer | null): TokenCounter {
  if (!tokenizer?.supportsOffsets) return wordTokenCounter;
  return (text) => tokenizer.encodeWithOffsets(text, { addSpecialTokens: false }).offsets;
}

export async function loadPassages(
  source: string,
  opts: {
    fields?: Partial<RecordFields>;
    chunk: Partial<ChunkConfig> | null;
    tokenizer?: Tokenizer | null;
    ingest?: Partial<IngestOptions>;
  },
): Promise<Passage[]> {
  const docs = await loadDocuments(source, opts.fields ?? {}, opts.ingest ?? {});
  if (docs.length === 0)
    throw new Error(`no documents found in ${source} (expected .txt/.md files, or a .jsonl/.csv file)`);
  if (opts.chunk === null) {
    return docs.map((d) => ({ id: d.id, text: d.text, title: d.title, source: d.id, start: 0, end: d.text.length }));
  }
  return chunkDocuments(docs, opts.chunk, tokenizerCounter(opts.tokenizer ?? null));
}
