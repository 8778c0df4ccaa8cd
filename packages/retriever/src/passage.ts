/**
 * A passage: the unit that indexes store and retrievers return. It is a span of a source
 * document, so an answer found in it can be traced back to the document it came from.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write';
import { parseJsonl } from './jsonl';

/** A span of a source document, with the character offsets that locate it there. */
export interface Passage {
  /** Unique id within a collection (e.g. `notes/intro.md#3`). */
  id: string;
  /** The passage text: exactly `document.text.slice(start, end)` for chunked documents. */
  text: string;
  /** Title of the source document, when it has one. */
  title?: string;
  /** Id of the source document (a relative path for files, the record id for JSONL/CSV). */
  source: string;
  /** Offset of the first character in the source document (UTF-16 code units, inclusive). */
  start: number;
  /** Offset one past the last character in the source document (exclusive). */
  end: number;
}

/** File name used for passages inside an index directory. */
export const PASSAGES_FILE = 'passages.jsonl';

/**
 * Checks that a parsed JSON value is a Passage and returns a clean copy (unknown keys dropped).
 * `where` (e.g. `passages.jsonl:12`) prefixes every error message.
 */
export function toPassage(value: unknown, where: string): Passage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: expected a JSON object for a passage, got ${describe(value)}`);
  }
  const o = value as Record<string, unknown>;
  for (const field of ['id', 'text', 'source'] as const) {
    if (typeof o[field] !== 'string') {
      throw new Error(`${where}: passage field "${field}" must be a string, got ${describe(o[field])}`);
    }
  }
  for (const field of ['start', 'end'] as const) {
    const v = o[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new Error(`${where}: passage field "${field}" must be a non-negative integer, got ${describe(v)}`);
    }
  }
  if ((o.end as number) < (o.start as number)) {
    throw new Error(`${where}: passage "end" (${o.end}) is before "start" (${o.start})`);
  }
  if (o.title !== undefined && typeof o.title !== 'string') {
    throw new Error(`${where}: passage field "title" must be a string when present, got ${describe(o.title)}`);
  }
  const p: Passage = {
    id: o.id as string,
    text: o.text as string,
    source: o.source as string,
    start: o.start as number,
    end: o.end as number,
  };
  if (o.title !== undefined) p.title = o.title as string;
  return p;
}

/** One passage as one JSON line (fixed key order, no trailing newline). */
export function passageToJsonLine(p: Passage): string {
  const o: Record<string, unknown> = { id: p.id, text: p.text };
  if (p.title !== undefined) o.title = p.title;
  o.source = p.source;
  o.start = p.start;
  o.end = p.end;
  return JSON.stringify(o);
}

/**
 * Parses passages from JSONL text; blank lines are skipped. Errors name `file:line`.
 * Duplicate ids are an error, since indexes key passages by id.
 */
export function parsePassagesJsonl(content: string, file: string): Passage[] {
  const out: Passage[] = [];
  const seen = new Set<string>();
  for (const { value, line } of parseJsonl(content, file)) {
    const where = `${file}:${line}`;
    const p = toPassage(value, where);
    if (seen.has(p.id)) throw new Error(`${where}: duplicate passage id "${p.id}"`);
    seen.add(p.id);
    out.push(p);
  }
  return out;
}

/**
 * Reads a `passages.jsonl` file.
 *
 * @example
 * const passages = await readPassages('index/passages.jsonl');
 */
export async function readPassages(file: string): Promise<Passage[]> {
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read passages file ${file}: ${(e as Error).message}`);
  }
  return parsePassagesJsonl(content, file);
}

/** Serialises passages as JSONL text (one passage per line, trailing newline). */
export function passagesToJsonl(passages: readonly Passage[]): string {
  let s = '';
  for (const p of passages) s += passageToJsonLine(p) + '\n';
  return s;
}

/**
 * Writes passages as JSONL, atomically (temp file, then rename).
 *
 * @example
 * await writePassages('out/passages.jsonl', chunkDocuments(docs, { maxTokens: 200, overlap: 20 }));
 */
export async function writePassages(file: string, passages: readonly Passage[]): Promise<void> {
  await writeFileAtomic(file, passagesToJsonl(passages));
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (field missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `a string` : `${typeof v} ${JSON.stringify(v)}`;
}
