/**
 * Retriever training pairs: a query, its positive passage, and optional hard negatives.
 * Data preparation writes them as JSON lines (`pairs.jsonl`); training only reads that file.
 *
 *   {"query": "...", "positive": "...", "positive_id": "185-0", "negatives": ["...", ...], "negative_ids": [...]}
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '@dalm/core';
import { parseCsv, parseJsonl, type Passage } from '@dalm/retriever';

export interface TrainingPair {
  query: string;
  positive: string;
  positiveId?: string;
  negatives?: string[];
  negativeIds?: string[];
}

/** Column names of a labelled pairs file. */
export interface PairFields {
  /** Column holding the query. */
  queryField: string;
  /** Column holding the positive passage text. */
  positiveField: string;
  /** Column holding hard negatives (a JSON array in JSONL; `|`-separated in CSV); optional in the file. */
  negativesField: string;
}

export const DEFAULT_PAIR_FIELDS: Readonly<PairFields> = Object.freeze({
  queryField: 'query',
  positiveField: 'positive',
  negativesField: 'negatives',
});

function toPair(o: Record<string, unknown>, fields: PairFields, where: string): TrainingPair {
  const q = o[fields.queryField];
  const p = o[fields.positiveField];
  if (typeof q !== 'string' || !q.trim())
    throw new Error(`${where}: missing or empty query column "${fields.queryField}"`);
  if (typeof p !== 'string' || !p.trim())
    throw new Error(`${where}: missing or empty positive column "${fields.positiveField}"`);
  const pair: TrainingPair = { query: q, positive: p };
  if (typeof o.positive_id === 'string') pair.positiveId = o.positive_id;
  const neg = o[fields.negativesField];
  if (neg !== undefined && neg !== null && neg !== '') {
    const list = Array.isArray(neg) ? neg : String(neg).split('|');
    if (!list.every((n) => typeof n === 'string'))
      throw new Error(`${where}: column "${fields.negativesField}" must hold strings`);
    pair.negatives = (list as string[]).filter((n) => n.trim());
  }
  if (Array.isArray(o.negative_ids)) pair.negativeIds = o.negative_ids.map(String);
  return pair;
}

/** Reads a labelled pairs file (.jsonl or .csv); errors name the file and line. */
export async function readPairs(file: string, fields: Partial<PairFields> = {}): Promise<TrainingPair[]> {
  const f = { ...DEFAULT_PAIR_FIELDS, ...fields };
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new Error(`pairs file not found: ${file}`);
  }
  const ext = path.extname(file).toLowerCase();
  const pairs: TrainingPair[] = [];
  if (ext === '.csv') {
    const [header, ...rows] = parseCsv(text, file);
    if (!header) throw new Error(`pairs file ${file} is empty`);
    for (const rec of rows) {
      const o = Object.fromEntries(header.fields.map((name, i) => [name, rec.fields[i]]));
      pairs.push(toPair(o, f, `${file}:${rec.line}`));
    }
  } else if (ext === '.jsonl' || ext === '.json') {
    for (const { value, line } of parseJsonl(text, file)) pairs.push(toPair(value, f, `${file}:${line}`));
  } else {
    throw new Error(`pairs file ${file}: unsupported extension "${ext}" (use .jsonl or .csv)`);
  }
  if (pairs.length === 0) throw new Error(`pairs file ${file} holds no pairs`);
  return pairs;
}

/** Writes pairs as JSON lines, atomically. */
export async function writePairs(file: string, pairs: readonly TrainingPair[]): Promise<void> {
  const lines = pairs.map((p) =>
    JSON.stringify({
      query: p.query,
      positive: p.positive,
      ...(p.positiveId ? { positive_id: p.positiveId } : {}),
      ...(p.negatives?.length ? { negatives: p.negatives } : {}),
      ...(p.negativeIds?.length ? { negative_ids: p.negativeIds } : {}),
    }),
  );
  await atomicWriteFile(file, lines.join('\n') + '\n');
}

/** Pairs from queries with relevance judgements: one pair per (query, relevant passage). */
export function pairsFromQrels(
  queries: readonly { id: string; text: string }[],
  qrels: Map<string, Map<string, number>>,
  corpus: readonly Passage[],
): TrainingPair[] {
  const byId = new Map(corpus.map((p) => [p.id, p]));
  const out: TrainingPair[] = [];
  for (const q of queries) {
    for (const [pid, grade] of qrels.get(q.id) ?? []) {
      const p = byId.get(pid);
      if (grade > 0 && p) out.push({ query: q.text, positive: p.text, positiveId: p.id });
    }
  }
  return out;
}
