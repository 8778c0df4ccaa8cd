/**
 * Loading source documents: a directory tree of `.txt`/`.md` files, a JSONL file, or a CSV
 * file. Documents are then cut into passages by `chunkDocuments` (chunk.ts).
 */
import type { Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseCsv } from './csv';
import { parseJsonl } from './jsonl';
import { readTextFile, type IngestOptions } from './text-decode';

/** A whole source document, before chunking. */
export interface Document {
  /** Unique id: the path relative to the loaded directory (posix separators), or the record id. */
  id: string;
  /** Full text; passage offsets index into this string. */
  text: string;
  /** Title, when the source has one (a record's title column, a Markdown file's first `# ` heading). */
  title?: string;
}

/** Which columns/keys of a JSONL or CSV record hold the id, text and title. */
export interface RecordFields {
  /** Column with the document id; `null` to use `<file name>:<line>` instead. */
  idField: string | null;
  /** Column with the document text (required in every record). */
  textField: string;
  /** Column with the title; `null` for none. A record without this column simply has no title. */
  titleField: string | null;
}

export const DEFAULT_RECORD_FIELDS: Readonly<RecordFields> = Object.freeze({
  idField: 'id',
  textField: 'text',
  titleField: 'title',
});

/** File extensions read when loading a directory. */
export const DOCUMENT_EXTENSIONS = ['.txt', '.md'] as const;

/**
 * Loads documents from a directory (recursive `.txt`/`.md`), a `.jsonl` file or a `.csv` file.
 *
 * @example
 * const docs = await loadDocuments('corpus/');                       // files
 * const rows = await loadDocuments('faq.csv', { textField: 'answer', titleField: 'question' });
 */
export async function loadDocuments(
  source: string,
  fields: Partial<RecordFields> = {},
  ingest: Partial<IngestOptions> = {},
): Promise<Document[]> {
  let st: Stats;
  try {
    st = await stat(source);
  } catch {
    throw new Error(`document source not found: ${source}`);
  }
  if (st.isDirectory()) return loadDirectory(source, ingest);
  const ext = path.extname(source).toLowerCase();
  if (ext === '.jsonl') return loadJsonl(source, fields, ingest);
  if (ext === '.csv') return loadCsv(source, fields, ingest);
  if ((DOCUMENT_EXTENSIONS as readonly string[]).includes(ext)) {
    const doc = await readTextDocument(source, path.basename(source), ingest);
    return doc ? [doc] : [];
  }
  throw new Error(`unsupported document source ${source}: expected a directory, a .jsonl, .csv, .txt or .md file`);
}

/**
 * Every `.txt`/`.md` file under `dir` (recursive, hidden entries skipped), sorted by relative
 * path; each document's id is that relative path with `/` separators.
 */
export async function loadDirectory(dir: string, ingest: Partial<IngestOptions> = {}): Promise<Document[]> {
  const rels: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(childRel);
      else if (e.isFile() && (DOCUMENT_EXTENSIONS as readonly string[]).includes(path.extname(e.name).toLowerCase())) {
        rels.push(childRel);
      }
    }
  };
  await walk('');
  rels.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const docs: Document[] = [];
  for (const rel of rels) {
    const doc = await readTextDocument(path.join(dir, rel), rel, ingest);
    if (doc) docs.push(doc);
  }
  return docs;
}

async function readTextDocument(file: string, id: string, ingest: Partial<IngestOptions>): Promise<Document | null> {
  let text = await readTextFile(file, ingest);
  if (text === null) return null;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const doc: Document = { id, text };
  if (path.extname(file).toLowerCase() === '.md') {
    const heading = /^#[ \t]+(.+?)[ \t#]*$/m.exec(text);
    if (heading) doc.title = heading[1]!;
  }
  return doc;
}

/** Builds a document from one record; `get(column)` returns the value or undefined when absent. */
function recordToDocument(
  get: (column: string) => unknown,
  fields: RecordFields,
  where: string,
  fallbackId: string,
  hasColumn: (column: string) => boolean,
): Document {
  const text = get(fields.textField);
  if (text === undefined) throw new Error(`${where}: missing text column "${fields.textField}"`);
  if (typeof text !== 'string') throw new Error(`${where}: column "${fields.textField}" must be a string`);
  let id = fallbackId;
  if (fields.idField !== null) {
    const v = get(fields.idField);
    if (v === undefined || v === '' || v === null) {
      throw new Error(
        `${where}: missing id column "${fields.idField}"` +
          (hasColumn(fields.idField) ? '' : ' (set idField to the right column, or to null to use file:line ids)'),
      );
    }
    if (typeof v !== 'string' && typeof v !== 'number')
      throw new Error(`${where}: column "${fields.idField}" must be a string or number`);
    id = String(v);
  }
  const doc: Document = { id, text };
  if (fields.titleField !== null) {
    const t = get(fields.titleField);
    if (t !== undefined && t !== null && t !== '') {
      if (typeof t !== 'string') throw new Error(`${where}: column "${fields.titleField}" must be a string`);
      doc.title = t;
    }
  }
  return doc;
}

function checkUnique(docs: Document[], lines: number[], file: string): void {
  const first = new Map<string, number>();
  docs.forEach((d, i) => {
    const prev = first.get(d.id);
    if (prev !== undefined)
      throw new Error(`${file}:${lines[i]}: duplicate document id "${d.id}" (first seen on line ${prev})`);
    first.set(d.id, lines[i]!);
  });
}

/** One JSON object per line; blank lines skipped; errors name `file:line` and the missing key. */
export async function loadJsonl(
  file: string,
  fields: Partial<RecordFields> = {},
  ingest: Partial<IngestOptions> = {},
): Promise<Document[]> {
  const f: RecordFields = { ...DEFAULT_RECORD_FIELDS, ...fields };
  const content = await readTextFile(file, ingest);
  if (content === null) return [];
  const docs: Document[] = [];
  const lines: number[] = [];
  const base = path.basename(file);
  const rows = parseJsonl(content, file);
  // BEIR corpora key documents by "_id": use it when the id field was left at its default and is absent.
  if (fields.idField === undefined && rows.length > 0 && !('id' in rows[0]!.value) && '_id' in rows[0]!.value)
    f.idField = '_id';
  for (const { value, line } of rows) {
    docs.push(
      recordToDocument(
        (c) => value[c],
        f,
        `${file}:${line}`,
        `${base}:${line}`,
        (c) => c in value,
      ),
    );
    lines.push(line);
  }
  checkUnique(docs, lines, file);
  return docs;
}

/**
 * A CSV file with a header row (RFC 4180 quoting: commas, quotes and newlines inside quoted
 * fields). A header without the text/id column is an error naming the column and the
 * columns that exist; a row with the wrong number of fields names its line.
 */
export async function loadCsv(
  file: string,
  fields: Partial<RecordFields> = {},
  ingest: Partial<IngestOptions> = {},
): Promise<Document[]> {
  const f: RecordFields = { ...DEFAULT_RECORD_FIELDS, ...fields };
  const content = await readTextFile(file, ingest);
  if (content === null) return [];
  const records = parseCsv(content, file);
  if (records.length === 0) throw new Error(`${file}: empty CSV file (expected a header row)`);
  const header = records[0]!.fields.map((h) => h.trim());
  const col = new Map(header.map((h, i) => [h, i]));
  for (const [what, name] of [
    ['text', f.textField],
    ['id', f.idField],
  ] as const) {
    if (name !== null && !col.has(name)) {
      throw new Error(`${file}:1: header has no ${what} column "${name}" (columns: ${header.join(', ')})`);
    }
  }
  const base = path.basename(file);
  const docs: Document[] = [];
  const lines: number[] = [];
  for (const rec of records.slice(1)) {
    const where = `${file}:${rec.line}`;
    if (rec.fields.length !== header.length) {
      throw new Error(`${where}: expected ${header.length} fields (as in the header), got ${rec.fields.length}`);
    }
    const get = (c: string): unknown => {
      const i = col.get(c);
      return i === undefined ? undefined : rec.fields[i];
    };
    docs.push(recordToDocument(get, f, where, `${base}:${rec.line}`, (c) => col.has(c)));
    lines.push(rec.line);
  }
  checkUnique(docs, lines, file);
  return docs;
}
