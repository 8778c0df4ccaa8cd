/**
 * Reading IR evaluation sets: a corpus, queries, and relevance judgements (qrels).
 *
 * Two layouts are read:
 * - BEIR: `corpus.jsonl` {_id, title, text}, `queries.jsonl` {_id, text}, and
 *   `qrels/<split>.tsv` with a header and rows `query-id <TAB> corpus-id <TAB> score`.
 * - COVID-QA (shared/bench/covidqa): `corpus.jsonl` {id, title, text, article_id, char_start,
 *   char_end} and `<split>.jsonl` {id, question, answers[], positive_ids[]}; every positive
 *   passage has grade 1.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseJsonl, type JsonlRow } from './jsonl';
import type { Passage } from './passage';

export interface IrQuery {
  id: string;
  text: string;
  /** Reference answers, when the dataset has them (COVID-QA). */
  answers?: string[];
}

/** query id → (passage id → grade > 0 relevant, ≤ 0 judged not relevant). */
export type Qrels = Map<string, Map<string, number>>;

export interface IrDataset {
  corpus: Passage[];
  /** Queries that have at least one judgement in the split, in file order. */
  queries: IrQuery[];
  qrels: Qrels;
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    throw new Error(`missing ${what}: ${file}`);
  }
}

function str(row: JsonlRow, key: string, file: string): string {
  const v = row.value[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw new Error(`${file}:${row.line}: missing or non-string field "${key}"`);
}

/**
 * Reads a BEIR qrels TSV (`query-id corpus-id score`, header line optional).
 * Errors name `file:line`.
 */
export async function readQrelsTsv(file: string): Promise<Qrels> {
  const qrels: Qrels = new Map();
  const lines = (await readText(file, 'qrels file')).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const cols = line.split('\t');
    if (i === 0 && cols[0] === 'query-id') continue;
    const grade = Number(cols[2]);
    if (cols.length < 3 || !Number.isFinite(grade) || cols[0] === '' || cols[1] === '') {
      throw new Error(`${file}:${i + 1}: expected "query-id<TAB>corpus-id<TAB>score", got ${JSON.stringify(line)}`);
    }
    let m = qrels.get(cols[0]!);
    if (!m) qrels.set(cols[0]!, (m = new Map()));
    m.set(cols[1]!, grade);
  }
  return qrels;
}

/**
 * Reads a BEIR dataset directory for one split.
 *
 * @example
 * const { corpus, queries, qrels } = await loadBeirDataset('datasets/scifact', 'test');
 */
export async function loadBeirDataset(dir: string, split = 'test'): Promise<IrDataset> {
  const corpusFile = path.join(dir, 'corpus.jsonl');
  const corpus: Passage[] = parseJsonl(await readText(corpusFile, 'BEIR corpus'), corpusFile).map((row) => {
    const text = str(row, 'text', corpusFile);
    const p: Passage = {
      id: str(row, '_id', corpusFile),
      text,
      source: str(row, '_id', corpusFile),
      start: 0,
      end: text.length,
    };
    const title = row.value.title;
    if (typeof title === 'string' && title !== '') p.title = title;
    return p;
  });
  const qrels = await readQrelsTsv(path.join(dir, 'qrels', `${split}.tsv`));
  const queriesFile = path.join(dir, 'queries.jsonl');
  const queries = parseJsonl(await readText(queriesFile, 'BEIR queries'), queriesFile)
    .map((row) => ({ id: str(row, '_id', queriesFile), text: str(row, 'text', queriesFile) }))
    .filter((q) => qrels.has(q.id));
  return { corpus, queries, qrels };
}

/**
 * Reads the COVID-QA layout for one split (`train` or `dev`): every passage of `corpus.jsonl`
 * (source = article id, offsets = char_start/char_end) and the split's questions, with their
 * `positive_ids` as grade-1 qrels.
 *
 * @example
 * const { corpus, queries, qrels } = await loadCovidQaDataset('../shared/bench/covidqa', 'dev');
 */
export async function loadCovidQaDataset(dir: string, split = 'dev'): Promise<IrDataset> {
  const corpusFile = path.join(dir, 'corpus.jsonl');
  const corpus: Passage[] = parseJsonl(await readText(corpusFile, 'COVID-QA corpus'), corpusFile).map((row) => {
    const id = str(row, 'id', corpusFile);
    const text = str(row, 'text', corpusFile);
    const v = row.value;
    const p: Passage = {
      id,
      text,
      source: typeof v.article_id === 'string' ? v.article_id : id,
      start: typeof v.char_start === 'number' ? v.char_start : 0,
      end: typeof v.char_end === 'number' ? v.char_end : text.length,
    };
    if (typeof v.title === 'string' && v.title !== '') p.title = v.title;
    return p;
  });
  const splitFile = path.join(dir, `${split}.jsonl`);
  const queries: IrQuery[] = [];
  const qrels: Qrels = new Map();
  for (const row of parseJsonl(await readText(splitFile, `COVID-QA split "${split}"`), splitFile)) {
    const id = str(row, 'id', splitFile);
    const positives = row.value.positive_ids;
    if (!Array.isArray(positives) || !positives.every((x) => typeof x === 'string')) {
      throw new Error(`${splitFile}:${row.line}: field "positive_ids" must be an array of passage ids`);
    }
    const answers = row.value.answers;
    const q: IrQuery = { id, text: str(row, 'question', splitFile) };
    if (Array.isArray(answers)) q.answers = answers.filter((a): a is string => typeof a === 'string');
    if (positives.length === 0) continue;
    queries.push(q);
    qrels.set(id, new Map(positives.map((p) => [p as string, 1])));
  }
  return { corpus, queries, qrels };
}
