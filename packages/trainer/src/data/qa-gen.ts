/**
 * Question–answer training data from raw documents (no labels): a decoder reads each passage and
 * writes "Question: … Answer: …"; the outputs are parsed strictly and filtered so that what is
 * kept is answerable from its passage (in the spirit of synthetic-QA pipelines such as
 * PAQ, Lewis et al., 2021, and InPars, Bonifacio et al., 2022, with a simpler answer-grounding
 * filter instead of a round-trip model). `splitByDocument` keeps evaluation on unseen documents.
 * Without any model, `clozeQuestions` (cloze.ts) still turns a folder of .txt files into QA pairs.
 *
 * Filters, in order (each rejection is counted by reason):
 * - malformed output: no "Answer:" label, an empty or too short question, no question mark
 *   (when required), an empty or too long answer;
 * - ungrounded answer: the normalised answer is not a word-aligned substring of the normalised
 *   passage, and its token F1 with every passage sentence is below `minAnswerF1`;
 * - leaked answer: the normalised question contains the normalised answer;
 * - duplicate: a normalised question seen before (over the whole run).
 * Normalisation is SQuAD's (lower case, no punctuation or articles, single spaces).
 *
 * @example
 * const { train, eval: held } = splitByDocument(passages, { evalShare: 0.1, seed: 1 });
 * const { examples, rejected } = await generateQuestions(model, tokenizer, train, { perPassage: 2, temperature: 0.7 });
 * await writeQaExamples('data/qa.jsonl', examples);
 */
import { mixSeed, Rng, type Tokenizer } from '@dalm/core';
import type { Passage } from '@dalm/retriever';
import { generate, normalizeAnswer, tokenF1Single, type CausalLM } from '@dalm/generator';
import type { QaExample } from './qa';
import { sentenceSpans } from './ict';

// The no-model fallback lives in cloze.ts; re-exported so every way of making QA data is found here.
export { clozeQuestions, clozeOfSentence, salientSpans, DEFAULT_CLOZE_CONFIG, type ClozeConfig } from './cloze';

// --- split by document ---

export interface DocumentSplitConfig {
  /** Share of documents (not passages) held out for evaluation, in [0, 1). */
  evalShare: number;
  /** Seed of the document shuffle. */
  seed: number;
}

export const DEFAULT_DOCUMENT_SPLIT_CONFIG: Readonly<DocumentSplitConfig> = Object.freeze({ evalShare: 0.1, seed: 17 });

/**
 * Splits items by their source document, so that no document has items on both sides: evaluation
 * then measures unseen documents. round(evalShare · documents) documents (at least one when
 * evalShare > 0, at most all but one) go to `eval`; item order is kept on both sides.
 *
 * @example
 * const { train, eval: held } = splitByDocument(passages, { evalShare: 0.2, seed: 3 });
 */
export function splitByDocument<T extends { source: string }>(
  items: readonly T[],
  partial: Partial<DocumentSplitConfig> = {},
): { train: T[]; eval: T[] } {
  const c = { ...DEFAULT_DOCUMENT_SPLIT_CONFIG, ...partial };
  if (!(c.evalShare >= 0 && c.evalShare < 1))
    throw new Error(`splitByDocument: evalShare must be in [0, 1), got ${c.evalShare}`);
  if (!Number.isInteger(c.seed) || c.seed < 0)
    throw new Error(`splitByDocument: seed must be an integer >= 0, got ${c.seed}`);
  const sources = [...new Set(items.map((x) => x.source))].sort();
  if (c.evalShare > 0 && sources.length < 2) {
    throw new Error(`splitByDocument: needs at least 2 source documents to hold some out, got ${sources.length}`);
  }
  const nEval =
    c.evalShare === 0 ? 0 : Math.min(sources.length - 1, Math.max(1, Math.round(c.evalShare * sources.length)));
  const held = new Set(new Rng(c.seed).shuffle(sources).slice(0, nEval));
  return { train: items.filter((x) => !held.has(x.source)), eval: items.filter((x) => held.has(x.source)) };
}

// --- parsing and filtering generated questions ---

export interface QuestionFilterConfig {
  /** An answer not found verbatim (normalised) in the passage is kept if its token F1 with a passage sentence reaches this. */
  minAnswerF1: number;
  /** Fewest words in a question. */
  minQuestionWords: number;
  /** Most words in an answer. */
  maxAnswerWords: number;
  /** Reject questions that do not end with "?". */
  requireQuestionMark: boolean;
}

export const DEFAULT_QUESTION_FILTER_CONFIG: Readonly<QuestionFilterConfig> = Object.freeze({
  minAnswerF1: 0.6,
  minQuestionWords: 3,
  maxAnswerWords: 30,
  requireQuestionMark: true,
});

/** Why a generated output was dropped. */
export type QuestionRejection =
  | 'no_answer_label'
  | 'empty_question'
  | 'short_question'
  | 'no_question_mark'
  | 'empty_answer'
  | 'long_answer'
  | 'answer_not_in_passage'
  | 'answer_in_question'
  | 'duplicate';

export type ParsedQa = { question: string; answer: string } | { rejected: QuestionRejection };

const ANSWER_LABEL = /\banswer\s*:/i;
const QUESTION_LABEL = /\bquestion\s*:/gi;
const words = (s: string) => s.split(/\s+/).filter(Boolean);

/**
 * Parses one decoder output. The text may start right after a prompt that ended in "Question:"
 * (no label) or carry its own "Question:" label. The question is what precedes the first
 * "Answer:" (after the last "Question:" label, last non-empty line); the answer runs from there to
 * the end of its line (or a following "Question:"), without surrounding quotes or a final period.
 */
export function parseGeneratedQa(text: string, partial: Partial<QuestionFilterConfig> = {}): ParsedQa {
  const c = { ...DEFAULT_QUESTION_FILTER_CONFIG, ...partial };
  const a = ANSWER_LABEL.exec(text);
  if (!a) return { rejected: 'no_answer_label' };
  let before = text.slice(0, a.index);
  const labels = [...before.matchAll(QUESTION_LABEL)];
  if (labels.length) {
    const last = labels.at(-1)!;
    before = before.slice(last.index! + last[0].length);
  }
  const question = (
    before
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? ''
  ).replace(/\s+/g, ' ');
  let after = text.slice(a.index + a[0].length);
  const nextQuestion = after.search(/\bquestion\s*:/i);
  if (nextQuestion >= 0) after = after.slice(0, nextQuestion);
  const answer = (
    after
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) ?? ''
  )
    .replace(/^["'“‘\s]+|["'”’.\s]+$/g, '')
    .replace(/\s+/g, ' ');
  if (!question) return { rejected: 'empty_question' };
  if (words(question).length < c.minQuestionWords) return { rejected: 'short_question' };
  if (c.requireQuestionMark && !question.endsWith('?')) return { rejected: 'no_question_mark' };
  if (!answer) return { rejected: 'empty_answer' };
  if (words(answer).length > c.maxAnswerWords) return { rejected: 'long_answer' };
  return { question, answer };
}

/** Whether normalised `needle` occurs in normalised `haystack` on word boundaries. */
function containsNormalized(haystack: string, needle: string): boolean {
  const n = normalizeAnswer(needle);
  return n.length > 0 && ` ${normalizeAnswer(haystack)} `.includes(` ${n} `);
}

/** The grounding test: verbatim (normalised) in the passage, or token F1 ≥ minAnswerF1 with one of its sentences. */
export function answerIsGrounded(answer: string, passageText: string, minAnswerF1: number): boolean {
  if (containsNormalized(passageText, answer)) return true;
  return sentenceSpans(passageText).some(([s, e]) => tokenF1Single(answer, passageText.slice(s, e)) >= minAnswerF1);
}

export interface QuestionGenResult {
  /** Kept examples: the passage is their positive, its source their document. */
  examples: QaExample[];
  /** Outputs looked at. */
  generated: number;
  /** Dropped outputs by reason. */
  rejected: Partial<Record<QuestionRejection, number>>;
}

/**
 * Parses and filters decoder outputs, one `{ passage, output }` per sample, in order (pure; the
 * second half of `generateQuestions`). Example ids are `<passage id>#q<n>`.
 */
export function questionsFromOutputs(
  outputs: readonly { passage: Passage; output: string }[],
  partial: Partial<QuestionFilterConfig> = {},
): QuestionGenResult {
  const c = { ...DEFAULT_QUESTION_FILTER_CONFIG, ...partial };
  const examples: QaExample[] = [];
  const rejected: Partial<Record<QuestionRejection, number>> = {};
  const reject = (r: QuestionRejection) => (rejected[r] = (rejected[r] ?? 0) + 1);
  const seen = new Set<string>();
  const perPassage = new Map<string, number>();
  for (const { passage, output } of outputs) {
    const parsed = parseGeneratedQa(output, c);
    if ('rejected' in parsed) {
      reject(parsed.rejected);
      continue;
    }
    if (!answerIsGrounded(parsed.answer, passage.text, c.minAnswerF1)) {
      reject('answer_not_in_passage');
      continue;
    }
    if (containsNormalized(parsed.question, parsed.answer)) {
      reject('answer_in_question');
      continue;
    }
    const key = normalizeAnswer(parsed.question);
    if (seen.has(key)) {
      reject('duplicate');
      continue;
    }
    seen.add(key);
    const n = perPassage.get(passage.id) ?? 0;
    perPassage.set(passage.id, n + 1);
    examples.push({
      id: `${passage.id}#q${n}`,
      question: parsed.question,
      answers: [parsed.answer],
      positiveIds: [passage.id],
      documentId: passage.source,
    });
  }
  return { examples, generated: outputs.length, rejected };
}

// --- generation ---

export interface QuestionGenConfig extends QuestionFilterConfig {
  /** Prompt for the decoder; {passage} is replaced by the passage text, {title} by its title. */
  promptTemplate: string;
  /** Samples drawn per passage (repeats are dropped by the duplicate filter). */
  perPassage: number;
  /** Most tokens generated per sample. */
  maxNewTokens: number;
  /** 0 = greedy (then perPassage > 1 only repeats); > 0 samples. */
  temperature: number;
  /** Nucleus sampling mass (1 = off). */
  topP: number;
  /** Seed of the sampling (batch i uses mixSeed(seed, i)). */
  seed: number;
  /** Prompts per `generate` call. */
  batchSize: number;
  /** Longest prompt in tokens, the passage cut to fit; null: the model's positions − maxNewTokens, or 1024 when unbounded. */
  maxPromptTokens: number | null;
}

export const DEFAULT_QUESTION_PROMPT =
  'Read the passage, then write one question that the passage answers and the answer copied from the passage, as\n' +
  'Question: <question>\nAnswer: <answer>\n\nPassage: {passage}\n\nQuestion:';

export const DEFAULT_QUESTION_GEN_CONFIG: Readonly<QuestionGenConfig> = Object.freeze({
  ...DEFAULT_QUESTION_FILTER_CONFIG,
  promptTemplate: DEFAULT_QUESTION_PROMPT,
  perPassage: 1,
  maxNewTokens: 64,
  temperature: 0,
  topP: 1,
  seed: 23,
  batchSize: 8,
  maxPromptTokens: null,
});

export function validateQuestionGenConfig(partial: Partial<QuestionGenConfig> = {}): QuestionGenConfig {
  const c = { ...DEFAULT_QUESTION_GEN_CONFIG, ...partial };
  const bad = (msg: string): never => {
    throw new Error(`question generation config: ${msg}`);
  };
  if (typeof c.promptTemplate !== 'string' || !c.promptTemplate.includes('{passage}'))
    bad('promptTemplate must contain {passage}');
  for (const k of ['perPassage', 'maxNewTokens', 'batchSize', 'minQuestionWords', 'maxAnswerWords'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) bad(`${k} must be an integer >= 1, got ${c[k]}`);
  }
  if (!(c.temperature >= 0)) bad(`temperature must be >= 0, got ${c.temperature}`);
  if (!(c.topP > 0 && c.topP <= 1)) bad(`topP must be in (0, 1], got ${c.topP}`);
  if (!(c.minAnswerF1 >= 0 && c.minAnswerF1 <= 1)) bad(`minAnswerF1 must be in [0, 1], got ${c.minAnswerF1}`);
  if (!Number.isInteger(c.seed) || c.seed < 0) bad(`seed must be an integer >= 0, got ${c.seed}`);
  if (c.maxPromptTokens !== null && (!Number.isInteger(c.maxPromptTokens) || c.maxPromptTokens < 8)) {
    bad(`maxPromptTokens must be null or an integer >= 8, got ${c.maxPromptTokens}`);
  }
  return c;
}

/** Prompt ids for one passage: bos + template, the passage's tokens cut from their end to fit `maxTokens`. */
export function questionPromptIds(
  tokenizer: Tokenizer,
  template: string,
  passage: Passage,
  maxTokens: number,
  bos?: number,
): number[] {
  const enc = (s: string) => (s ? tokenizer.encode(s, { addSpecialTokens: false }) : []);
  const at = template.indexOf('{passage}');
  const fillTitle = (s: string) => s.replaceAll('{title}', passage.title ?? '');
  const head = [...(bos !== undefined ? [bos] : []), ...enc(fillTitle(template.slice(0, at)))];
  const tail = enc(fillTitle(template.slice(at + '{passage}'.length)).replaceAll('{passage}', ''));
  const room = maxTokens - head.length - tail.length;
  if (room < 1)
    throw new Error(
      `question generation: the prompt template alone needs ${head.length + tail.length} tokens, more than ${maxTokens}`,
    );
  return [...head, ...enc(passage.text).slice(0, room), ...tail];
}

/**
 * Asks `model` for `perPassage` question–answer pairs per passage and keeps those that pass the
 * filters (see the file comment).
 *
 * @example
 * const { examples, rejected } = await generateQuestions(model, tok, passages, { perPassage: 3, temperature: 0.8 });
 */
export async function generateQuestions(
  model: CausalLM,
  tokenizer: Tokenizer,
  passages: readonly Passage[],
  partial: Partial<QuestionGenConfig> = {},
): Promise<QuestionGenResult> {
  const c = validateQuestionGenConfig(partial);
  const maxPrompt = c.maxPromptTokens ?? (model.maxPositions !== null ? model.maxPositions - c.maxNewTokens : 1024);
  if (maxPrompt < 8)
    throw new Error(
      `question generation: maxNewTokens ${c.maxNewTokens} leaves no room for a prompt in ${model.maxPositions} positions`,
    );
  const bos = model.specialTokens.bos ?? undefined;
  const jobs = passages.flatMap((p) => {
    const ids = questionPromptIds(tokenizer, c.promptTemplate, p, maxPrompt, bos);
    return Array.from({ length: c.perPassage }, () => ({ passage: p, ids }));
  });
  const outputs: { passage: Passage; output: string }[] = [];
  for (let start = 0, batch = 0; start < jobs.length; start += c.batchSize, batch++) {
    const part = jobs.slice(start, start + c.batchSize);
    const r = await generate(
      model,
      part.map((j) => j.ids),
      {
        maxNewTokens: c.maxNewTokens,
        temperature: c.temperature,
        topP: c.topP,
        seed: mixSeed(c.seed, batch),
        tokenizer,
        stopStrings: ['\n\n'],
      },
    );
    part.forEach((j, i) => outputs.push({ passage: j.passage, output: r.texts![i]! }));
  }
  return questionsFromOutputs(outputs, c);
}
