/**
 * Question–answer examples for generator training and evaluation, read from JSON lines:
 *   {"id": "225", "question": "...", "answers": ["..."], "positive_ids": ["185-0", ...]}
 * (the COVID-QA layout; `answer` as a single string is accepted too).
 */
import { promises as fsp } from 'node:fs';
import { atomicWriteFile } from '@dalm/core';

export interface QaExample {
  id: string;
  question: string;
  answers: string[];
  /** Passages known to contain the answer (optional). */
  positiveIds?: string[];
  /** Source document (for splitting by document). */
  documentId?: string;
}

export async function readQaExamples(file: string): Promise<QaExample[]> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new Error(`QA file not found: ${file}`);
  }
  const out: QaExample[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${file}:${i + 1}`;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`${where}: not valid JSON`);
    }
    if (typeof o.question !== 'string' || !o.question.trim()) throw new Error(`${where}: missing "question"`);
    const answers = Array.isArray(o.answers) ? o.answers.map(String) : typeof o.answer === 'string' ? [o.answer] : [];
    if (answers.length === 0) throw new Error(`${where}: missing "answers" (a list) or "answer" (a string)`);
    out.push({
      id: o.id !== undefined ? String(o.id) : String(i + 1),
      question: o.question,
      answers,
      positiveIds: Array.isArray(o.positive_ids) ? o.positive_ids.map(String) : undefined,
      documentId: o.article_id !== undefined ? String(o.article_id) : typeof o.document_id === 'string' ? o.document_id : undefined,
    });
  });
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
