/**
 * Retrieval-augmented answering: retrieve passages, build the prompt (the same format the model
 * was fine-tuned with), generate (streaming), and return the passages given to the model as
 * citations. The generator package does not depend on the retriever: anything with this
 * `search` shape works (dense index, BM25, hybrid from @dalm/retriever, or your own).
 *
 * @example
 * for await (const piece of rag.stream('What is the incubation period?')) process.stdout.write(piece);
 * const { answer, citations } = await rag.lastResult!;
 */
import type { Tokenizer } from '@dalm/core';
import type { GenerationModel } from './token-stepper';
import { generate, stream, type GenerateOptions, type GenerateResult } from './generate';
import { buildPrompt, type PromptFormat, type PromptPassage } from './prompt-format';

/** A retrieved passage, structurally the same as @dalm/retriever's `Hit`. */
export interface RetrievedPassage {
  id: string;
  score: number;
  passage: { id: string; text: string; title?: string; source?: string };
}

/** The retrieval side of RAG: anything that returns ranked passages for a query. */
export interface PassageSearch {
  search(query: string, opts: { k: number }): Promise<RetrievedPassage[]>;
}

export interface Citation {
  /** Passage id as shown in the prompt (`[id]`). */
  id: string;
  source?: string;
  title?: string;
  score: number;
  /** Rank in the retrieval results (1 = best). */
  rank: number;
  /** Tokens of the passage that fit in the prompt, of its total. */
  keptTokens: number;
  totalTokens: number;
  text: string;
}

export interface RagOptions {
  /** Passages to retrieve. */
  k: number;
  /** Context length available to the prompt + answer (default: the format's `contextTokens`, else the model's positions, else 1024). */
  contextTokens?: number;
  /** Generation settings (maxNewTokens, temperature, topK, topP, ...). */
  generate?: GenerateOptions;
  /** Skip retrieval (closed-book): the prompt has no passages. */
  closedBook?: boolean;
}

export interface RagAnswer {
  question: string;
  answer: string;
  citations: Citation[];
  finishReason: string;
}

export class RagPipeline {
  constructor(
    readonly model: GenerationModel,
    readonly tokenizer: Tokenizer,
    readonly format: PromptFormat,
    readonly retrieval: PassageSearch | null,
  ) {}

  /** Retrieves passages and builds the prompt ids for `question`. */
  async prepare(question: string, opts: RagOptions): Promise<{ ids: number[]; citations: Citation[] }> {
    if (typeof question !== 'string' || question.trim() === '')
      throw new Error('the question is empty: give a question to answer');
    if (!Number.isInteger(opts.k) || opts.k < 1)
      throw new Error(`k (passages per prompt) must be a whole number of at least 1, got ${opts.k}`);
    const maxNew = opts.generate?.maxNewTokens ?? 32;
    const context = opts.contextTokens ?? this.format.contextTokens ?? this.model.maxPositions ?? 1024;
    if (!Number.isInteger(maxNew) || maxNew < 1 || maxNew >= context) {
      throw new Error(
        `maxNewTokens (--max-new-tokens) must be between 1 and ${context - 1} (the model's context is ${context} tokens and the prompt needs room), got ${maxNew}`,
      );
    }
    const hits = opts.closedBook || !this.retrieval ? [] : await this.retrieval.search(question, { k: opts.k });
    const passages: PromptPassage[] = hits.map((h) => ({ id: h.id, text: h.passage.text, title: h.passage.title }));
    const bos = this.model.specialTokens.bos ?? undefined;
    const prompt = buildPrompt(this.tokenizer, this.format, question, passages, context - maxNew, bos);
    const placed = new Map(prompt.passages.map((p) => [p.id, p]));
    const citations: Citation[] = [];
    hits.forEach((h, i) => {
      const p = placed.get(h.id);
      if (!p) return;
      citations.push({
        id: h.id,
        source: h.passage.source,
        title: h.passage.title,
        score: h.score,
        rank: i + 1,
        keptTokens: p.keptTokens,
        totalTokens: p.totalTokens,
        text: h.passage.text,
      });
    });
    return { ids: prompt.ids, citations };
  }

  /** Answers one question, streaming text pieces; the generator's return value is the full answer. */
  async *stream(question: string, opts: RagOptions): AsyncGenerator<string, RagAnswer> {
    const { ids, citations } = await this.prepare(question, opts);
    const it = stream(this.model, ids, { maxNewTokens: 32, ...opts.generate, tokenizer: this.tokenizer });
    let text = '';
    let r = await it.next();
    while (!r.done) {
      text += r.value;
      yield r.value;
      r = await it.next();
    }
    const result: GenerateResult = r.value;
    return { question, answer: (result.texts?.[0] ?? text).trim(), citations, finishReason: result.finishReasons[0] };
  }

  /** Answers one question without streaming. */
  async ask(question: string, opts: RagOptions): Promise<RagAnswer> {
    const it = this.stream(question, opts);
    let r = await it.next();
    while (!r.done) r = await it.next();
    return r.value;
  }

  /** Answers many questions, batching generation (left padding) for speed. */
  async askMany(questions: readonly string[], opts: RagOptions & { batchSize?: number }): Promise<RagAnswer[]> {
    const out: RagAnswer[] = [];
    const batchSize = opts.batchSize ?? 8;
    for (let i = 0; i < questions.length; i += batchSize) {
      const part = questions.slice(i, i + batchSize);
      const prepared = await Promise.all(part.map((q) => this.prepare(q, opts)));
      const res = await generate(
        this.model,
        prepared.map((p) => p.ids),
        { maxNewTokens: 32, ...opts.generate, tokenizer: this.tokenizer },
      );
      part.forEach((q, j) =>
        out.push({
          question: q,
          answer: (res.texts?.[j] ?? '').trim(),
          citations: prepared[j].citations,
          finishReason: res.finishReasons[j],
        }),
      );
    }
    return out;
  }
}
