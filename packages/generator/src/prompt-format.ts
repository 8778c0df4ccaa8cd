/**
 * The one prompt format for retrieval-augmented generation, used identically in fine-tuning and
 * in `ask`, and stored with the model (`prompt_format.json`) so a model directory carries it.
 *
 *   <instruction>\n
 *   [<passage id>] <title>: <passage text>\n        (one block per retrieved passage, in rank order)
 *   Question: <question>\n
 *   Answer:                                         (the answer follows, then the eos token)
 *
 * The prompt fits a token budget by truncating passages (the lowest-ranked first, from their
 * end), never the question.
 *
 * Instruct models (a chat template in their tokenizer config or GGUF file) get the same blocks as
 * the user message of their chat template ({@link CHAT_PROMPT_FORMAT}, `chat` set): the template's
 * text before and after the message (system turn, role headers, generation prompt) frames it, the
 * answer follows the generation prompt and ends with eos (the end-of-turn token of such models).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { atomicWriteFile, type Tokenizer } from '@dalm/core';
import { ChatTemplate, type ChatTemplateSpec } from './chat-template';

export interface PromptFormat {
  /** First line of every prompt ('' for none). */
  instruction: string;
  /** Passage block; placeholders {id}, {title}, {text}. */
  passageTemplate: string;
  /** Question block; placeholder {question}. */
  questionTemplate: string;
  /** Text right before the answer. */
  answerPrefix: string;
  /** Text put before the answer's first word (a space, so the answer tokenizes as mid-text words). */
  answerLead: string;
  /** Token budget of prompt + answer the model was fine-tuned with; `ask` uses the same (optional). */
  contextTokens?: number;
  /** Chat template of an instruct model: the prompt becomes its user message (optional). */
  chat?: ChatTemplateSpec;
}

export const DEFAULT_PROMPT_FORMAT: Readonly<PromptFormat> = Object.freeze({
  instruction: 'Answer the question from the passages.',
  passageTemplate: '[{id}] {title}: {text}\n',
  questionTemplate: 'Question: {question}\n',
  answerPrefix: 'Answer:',
  answerLead: ' ',
});

/** The blocks of the user message of an instruct model's chat template (set `chat` to the template). */
export const CHAT_PROMPT_FORMAT: Readonly<PromptFormat> = Object.freeze({
  instruction: 'Answer the question from the passages.',
  passageTemplate: '[{id}] {title}: {text}\n',
  questionTemplate: 'Question: {question}',
  answerPrefix: '',
  answerLead: '',
});

/**
 * The default layout without the instruction line and the `[id] title:` frame: only the passage
 * text, the question and the answer prefix. For a small model trained from scratch every prompt
 * token is cost and noise (the frame is ~25 tokens of ~75 on WordNet passages); citations do not
 * need the id in the prompt (they come from the retrieval results).
 */
export const COMPACT_PROMPT_FORMAT: Readonly<PromptFormat> = Object.freeze({
  ...DEFAULT_PROMPT_FORMAT,
  instruction: '',
  passageTemplate: '{text}\n',
});

export const PROMPT_FORMAT_FILE = 'prompt_format.json';

export function validatePromptFormat(partial: Partial<PromptFormat> = {}): PromptFormat {
  const f = { ...DEFAULT_PROMPT_FORMAT, ...partial };
  for (const [k, v] of Object.entries(f)) {
    if (k === 'contextTokens') {
      if (v !== undefined && (!Number.isInteger(v) || (v as number) < 8))
        throw new Error(`prompt format: contextTokens must be an integer >= 8, got ${v}`);
    } else if (k === 'chat') {
      if (v === undefined) continue;
      const c = v as ChatTemplateSpec;
      if (!c || typeof c !== 'object' || typeof c.template !== 'string')
        throw new Error('prompt format: chat must be {template, specialTokens?, system?}');
      if (c.system !== undefined && typeof c.system !== 'string')
        throw new Error('prompt format: chat.system must be a string');
      new ChatTemplate(c, 'prompt format: chat.template').wrap(); // fails early on a template that cannot frame a prompt
    } else if (typeof v !== 'string') throw new Error(`prompt format: ${k} must be a string, got ${typeof v}`);
  }
  if (!f.passageTemplate.includes('{text}')) throw new Error('prompt format: passageTemplate must contain {text}');
  if (!f.questionTemplate.includes('{question}'))
    throw new Error('prompt format: questionTemplate must contain {question}');
  return f;
}

/** A passage as the prompt shows it. */
export interface PromptPassage {
  id: string;
  text: string;
  title?: string;
}

export interface BuiltPrompt {
  /** Prompt token ids (no answer). */
  ids: number[];
  /** The passages as placed, with how many of their tokens were kept. */
  passages: { id: string; keptTokens: number; totalTokens: number }[];
}

const fill = (template: string, values: Record<string, string>) =>
  template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? values[k] : m));

/**
 * Builds the prompt ids for `question` and `passages` within `maxTokens` (the model's context
 * minus room for the answer). Passages that do not fit are cut from their end, lowest rank
 * first; a passage left with no tokens is dropped. Throws if the question alone does not fit.
 * With `format.chat`, the blocks form the user message of the chat template and `bos` is not
 * added (the template writes it where the model expects one).
 */
export function buildPrompt(
  tokenizer: Tokenizer,
  format: PromptFormat,
  question: string,
  passages: readonly PromptPassage[],
  maxTokens: number,
  bos?: number,
): BuiltPrompt {
  const enc = (s: string) => (s ? tokenizer.encode(s, { addSpecialTokens: false }) : []);
  const frame = format.chat ? new ChatTemplate(format.chat).wrap() : { before: '', after: '' };
  const lead = format.chat ? [] : bos !== undefined ? [bos] : [];
  const head = [...lead, ...enc(frame.before), ...enc(format.instruction ? `${format.instruction}\n` : '')];
  const tail = [...enc(fill(format.questionTemplate, { question })), ...enc(format.answerPrefix), ...enc(frame.after)];
  const fixed = head.length + tail.length;
  if (fixed > maxTokens) {
    throw new Error(`prompt: the question alone needs ${fixed} tokens, more than the budget of ${maxTokens}`);
  }
  const blocks = passages.map((p) => {
    const [before, after] = fill(format.passageTemplate, { id: p.id, title: p.title ?? '', text: '\u0000' }).split(
      '\u0000',
    );
    if (format.chat && before.endsWith(' ') && p.text) {
      // An instruct model saw "title: text" tokenized as one string, where the space joins the text's first word.
      return { id: p.id, before: enc(before.slice(0, -1)), body: enc(` ${p.text}`), after: enc(after) };
    }
    return { id: p.id, before: enc(before), body: enc(p.text), after: enc(after) };
  });
  const budget = maxTokens - fixed;
  const kept = blocks.map((b) => b.before.length + b.body.length + b.after.length);
  // Trim from the lowest-ranked passage up until everything fits.
  for (let i = blocks.length - 1; i >= 0 && kept.reduce((a, b) => a + b, 0) > budget; i--) {
    const over = kept.reduce((a, b) => a + b, 0) - budget;
    const frame = blocks[i].before.length + blocks[i].after.length;
    const bodyKeep = Math.max(0, blocks[i].body.length - over);
    kept[i] = bodyKeep > 0 ? frame + bodyKeep : 0;
  }
  const ids = [...head];
  const placed: BuiltPrompt['passages'] = [];
  blocks.forEach((b, i) => {
    if (kept[i] === 0) return;
    const bodyKeep = kept[i] - b.before.length - b.after.length;
    ids.push(...b.before, ...b.body.slice(0, bodyKeep), ...b.after);
    placed.push({ id: b.id, keptTokens: bodyKeep, totalTokens: b.body.length });
  });
  ids.push(...tail);
  return { ids, passages: placed };
}

/** Answer token ids as the model is trained to produce them: lead + answer, then eos. */
export function answerIds(tokenizer: Tokenizer, format: PromptFormat, answer: string, eos?: number): number[] {
  const ids = tokenizer.encode(`${format.answerLead}${answer.trim()}`, { addSpecialTokens: false });
  return eos !== undefined ? [...ids, eos] : ids;
}

export async function savePromptFormat(dir: string, format: PromptFormat): Promise<void> {
  await atomicWriteFile(path.join(dir, PROMPT_FORMAT_FILE), JSON.stringify(format, null, 2) + '\n');
}

/** Reads `prompt_format.json` from a model directory; the default format when the file is absent. */
export async function loadPromptFormat(dir: string): Promise<PromptFormat> {
  const file = path.join(dir, PROMPT_FORMAT_FILE);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return { ...DEFAULT_PROMPT_FORMAT };
  }
  try {
    return validatePromptFormat(JSON.parse(text) as Partial<PromptFormat>);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}
