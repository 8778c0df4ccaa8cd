/**
 * Question–answer examples for generator training and evaluation, read from JSON lines:
 *   {"id": "225", "question": "...", "answers": ["..."], "positive_ids": ["185-0", ...]}
 * (the COVID-QA layout; `answer` as a single string is accepted too).
 */
import { promises as fsp } from 'node:fs';
import { atomicWriteFile } from '@dalm/core';
import { parseJsonl } from '@dalm/retriever';

export interface QaExample {
  id: string;
  question: string;
  answers: string[];
  /** Passages known to contain the answer (optional). */
  positiveIds?: string[];
  /** Source document (for splitting by document). */
  documentId?: string;
}

export interface ReadQaOptions {
  /** Require `answers`/`answer` on every line (generator training and answer metrics); retrieval needs only ids. */
  requireAnswers: boolean;
}

/**
 * Reads QA examples from JSON lines (a UTF-8 byte-order mark is accepted); errors name `file:line`.
 * With `requireAnswers: false` (retrieval-only evaluation) lines need a question and may omit answers.
 */
export async function readQaExamples(file: string, opts: Partial<ReadQaOptions> = {}): Promise<QaExample[]> {
  const requireAnswers = opts.requireAnswers ?? true;
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new Error(`QA file not found: ${file}`);
  }
  const out: QaExample[] = [];
  for (const { value: o, line } of parseJsonl(text, file)) {
    const where = `${file}:${line}`;
    if (typeof o.question !== 'string' || !o.question.trim()) throw new Error(`${where}: missing "question"`);
    const answers = Array.isArray(o.answers) ? o.answers.map(String) : typeof o.answer === 'string' ? [o.answer] : [];
    if (requireAnswers && answers.length === 0)
      throw new Error(`${where}: missing "answers" (a list) or "answer" (a string)`);
    out.push({
      id: o.id !== undefined ? String(o.id) : String(line),
      question: o.question,
      answers,
      positiveIds: Array.isArray(o.positive_ids) ? o.positive_ids.map(String) : undefined,
      documentId:
        o.article_id !== undefined
          ? String(o.article_id)
          : typeof o.document_id === 'string'
            ? o.document_id
            : undefined,
    });
  }
  if (out.length === 0) throw new Error(`QA file ${file} holds no examples`);
  return out;
}

export async function writeQaExamples(file: string, examples: readonly QaExample[]): Promise<void> {
  const lines = examples.map((e) =>
    JSON.stringify({
      id: e.id,
      question: e.question,
      answers: e.answers,
      ...(e.positiveIds ? { positive_ids: e.positiveIds } : {}),
      ...(e.documentId ? { document_id: e.documentId } : {}),
    }),
  );
  await atomicWriteFile(file, lines.join('\n') + '\n');
}
