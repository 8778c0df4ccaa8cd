/**
 * Autoregressive generation for any CausalLM (tfjs) or IncrementalLM (ONNX Runtime): greedy or sampled decoding with a KV cache (the
 * prompt runs once, then one token per step), left-padded batches with HF's positions
 * (cumsum(mask) − 1), stopping on eos or a stop string, and streaming of decoded text.
 */
import { Rng, type Tokenizer } from '@dalm/core';
import { nextToken, type SamplingOptions } from './sampling';
import { tokenStepper, type GenerationModel } from './token-stepper';

/** What generation needs from a tokenizer. */
export type TokenDecoder = Pick<Tokenizer, 'decode'>;

/** One prompt, several prompts of any lengths (left-padded here), or an already left-padded batch. */
export type PromptInput =
  | readonly number[]
  | readonly (readonly number[])[]
  | { inputIds: number[][]; attentionMask: number[][] };

/** Called once per generated token of each unfinished row (eos included). */
export interface TokenEvent {
  /** Batch row. */
  row: number;
  /** The id just chosen. */
  tokenId: number;
  /** 0 for the first new token. */
  step: number;
}

/** Per-call generation settings. Selection (temperature, topK, topP, repetitionPenalty) is in SamplingOptions. */
export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to add per row. Default 32. */
  maxNewTokens?: number;
  /** Stop a row once its decoded new text contains one of these (needs `tokenizer`); the stop string is cut from the text. */
  stopStrings?: string[];
  /** Id(s) that end a row; default the model's eos. null = never stop on a token. */
  eosTokenId?: number | number[] | null;
  /** Id used to left-pad prompts and to fill finished rows; default the model's pad, else its first eos, else 0. */
  padTokenId?: number;
  /** Seed of the sampling RNG (mulberry32); the same seed gives the same tokens. Default 0. */
  seed?: number;
  /** Reuse keys/values between steps (default true); false recomputes the whole sequence every step. */
  useCache?: boolean;
  /** Decodes new tokens into `texts` and enables `stopStrings`. */
  tokenizer?: TokenDecoder;
  /** Called for every token chosen for an unfinished row. */
  onToken?: (event: TokenEvent) => void;
}

/** Why a row stopped. */
export type FinishReason = 'eos' | 'stop' | 'length';

export interface GenerateResult {
  /** Padded prompt + new tokens per row, HF layout: eos then pad ids after a row finished. */
  sequences: number[][];
  /** Generated ids per row, without the eos and the fill. */
  newTokens: number[][];
  finishReasons: FinishReason[];
  /** Decoded new tokens (special tokens skipped), cut before a stop string; only with a tokenizer. */
  texts?: string[];
}

/** A left-padded batch. */
interface PaddedBatch {
  ids: number[][];
  mask: number[][];
}

function checkIds(row: readonly number[], where: string): void {
  for (const id of row)
    if (!Number.isInteger(id) || id < 0)
      throw new Error(`${where}: token ids must be non-negative integers, got ${id}`);
}

/** Normalises any PromptInput into a left-padded batch and checks it. */
export function leftPad(prompt: PromptInput, padId: number): PaddedBatch {
  if (Array.isArray(prompt) && (prompt.length === 0 || typeof prompt[0] === 'number')) {
    const row = prompt as readonly number[];
    if (row.length === 0) throw new Error('generate: the prompt is empty (give at least one token, e.g. bos)');
    checkIds(row, 'generate prompt');
    return { ids: [row.slice()], mask: [row.map(() => 1)] };
  }
  if (Array.isArray(prompt)) {
    const rows = prompt as readonly (readonly number[])[];
    const width = Math.max(...rows.map((r) => r.length));
    const ids: number[][] = [];
    const mask: number[][] = [];
    rows.forEach((r, i) => {
      if (r.length === 0) throw new Error(`generate: prompt ${i} is empty (give at least one token, e.g. bos)`);
      checkIds(r, `generate prompt ${i}`);
      const pad = width - r.length;
      ids.push([...new Array<number>(pad).fill(padId), ...r]);
      mask.push([...new Array<number>(pad).fill(0), ...r.map(() => 1)]);
    });
    return { ids, mask };
  }
  const { inputIds, attentionMask } = prompt as { inputIds: number[][]; attentionMask: number[][] };
  if (!inputIds?.length || inputIds.length !== attentionMask?.length) {
    throw new Error('generate: inputIds and attentionMask must be non-empty and have the same number of rows');
  }
  const width = inputIds[0].length;
  inputIds.forEach((r, i) => {
    const m = attentionMask[i];
    if (r.length !== width || m.length !== width)
      throw new Error(`generate: row ${i} of inputIds/attentionMask is not ${width} long`);
    checkIds(r, `generate inputIds row ${i}`);
    const first = m.indexOf(1);
    if (first < 0) throw new Error(`generate: attentionMask row ${i} has no real token`);
    if (m.some((v, j) => v !== (j < first ? 0 : 1))) {
      throw new Error(`generate: attentionMask row ${i} must be 0…0 1…1 (left padding only), got [${m}]`);
    }
  });
  return { ids: inputIds.map((r) => r.slice()), mask: attentionMask.map((r) => r.slice()) };
}

/** Length of `text` that can be shown now: trailing U+FFFD (a split UTF-8 character) and the start of a stop string are held back. */
function stableLength(text: string, stopStrings: readonly string[]): number {
  let end = text.length;
  while (end > 0 && text[end - 1] === '\uFFFD') end--;
  let hold = 0;
  for (const s of stopStrings) {
    for (let n = Math.min(s.length - 1, end); n > hold; n--) {
      if (text.endsWith(s.slice(0, n), end)) {
        hold = n;
        break;
      }
    }
  }
  end -= hold;
  // Tokenizers that clean up spaces (" ." -> ".", " n't" -> "n't") may still rewrite a space
  // within the last few characters once the next token arrives: hold it back too.
  const space = text.lastIndexOf(' ', end - 1);
  if (space >= 0 && space >= end - 4) end = space;
  return end;
}

/** One decoding step's outcome, as seen by `stream`. */
interface StepState {
  texts: string[] | null;
  finished: boolean[];
}

/** The decoding loop shared by `generate` and `stream`: yields after every step, returns the result. */
async function* decodeLoop(
  model: GenerationModel,
  prompt: PromptInput,
  opts: GenerateOptions,
): AsyncGenerator<StepState, GenerateResult> {
  const maxNew = opts.maxNewTokens ?? 32;
  if (!Number.isInteger(maxNew) || maxNew < 0)
    throw new Error(`maxNewTokens must be a non-negative integer, got ${maxNew}`);
  const special = model.specialTokens;
  const eos = opts.eosTokenId === undefined ? special.eos : opts.eosTokenId === null ? [] : [opts.eosTokenId].flat();
  const padId = opts.padTokenId ?? special.pad ?? eos[0] ?? 0;
  const stopStrings = (opts.stopStrings ?? []).filter((s) => s.length > 0);
  const tokenizer = opts.tokenizer;
  if (stopStrings.length && !tokenizer)
    throw new Error('generate: stopStrings need a tokenizer (GenerateOptions.tokenizer)');

  const { ids, mask } = leftPad(prompt, padId);
  const batch = ids.length;
  for (const row of ids)
    for (const id of row)
      if (id >= model.vocabSize)
        throw new Error(`generate: token id ${id} is outside the vocabulary (size ${model.vocabSize})`);
  if (model.maxPositions !== null) {
    const longest = Math.max(...mask.map((m) => m.reduce((a, b) => a + b, 0)));
    if (longest + maxNew > model.maxPositions) {
      throw new Error(
        `generate: prompt (${longest} tokens) + maxNewTokens (${maxNew}) exceeds the model's ${model.maxPositions} positions`,
      );
    }
  }

  const rng = new Rng(opts.seed ?? 0);
  const history = ids.map((row, b) => row.filter((_, j) => mask[b][j] === 1));
  const newTokens: number[][] = ids.map(() => []);
  const finishReasons: FinishReason[] = ids.map(() => 'length');
  const finished = ids.map(() => false);
  const texts: string[] | null = tokenizer ? ids.map(() => '') : null;
  const useCache = opts.useCache ?? true;
  const stepper = tokenStepper(model, useCache);

  try {
    for (let step = 0; step < maxNew && !finished.every(Boolean); step++) {
      const data = await stepper.logits(ids, mask); // [b, vocab]
      const vocab = model.vocabSize;
      for (let b = 0; b < batch; b++) {
        let token = padId;
        if (!finished[b]) {
          token = nextToken(data.subarray(b * vocab, (b + 1) * vocab), history[b], opts, rng);
          opts.onToken?.({ row: b, tokenId: token, step });
          if (eos.includes(token)) {
            finished[b] = true;
            finishReasons[b] = 'eos';
          } else {
            newTokens[b].push(token);
            history[b].push(token);
            if (texts && tokenizer) {
              const text = tokenizer.decode(newTokens[b], { skipSpecialTokens: true });
              let cut = -1;
              for (const s of stopStrings) {
                const at = text.indexOf(s);
                if (at >= 0 && (cut < 0 || at < cut)) cut = at;
              }
              texts[b] = cut >= 0 ? text.slice(0, cut) : text;
              if (cut >= 0) {
                finished[b] = true;
                finishReasons[b] = 'stop';
              }
            }
          }
        }
        ids[b].push(token);
        mask[b].push(1);
      }
      yield { texts, finished };
    }
  } finally {
    stepper.dispose();
  }
  return { sequences: ids, newTokens, finishReasons, ...(texts ? { texts } : {}) };
}

/**
 * Generates up to `maxNewTokens` tokens for each prompt. A batch of prompts is left-padded and
 * given positions cumsum(mask) − 1, so every row generates what it would alone.
 *
 * @example
 * const model = await loadCausalLM('models/llama');
 * const tok = await loadTokenizer('models/llama');
 * const { texts } = await generate(model, [1, ...tok.encode('The answer is')], { maxNewTokens: 20, tokenizer: tok });
 */
export async function generate(
  model: GenerationModel,
  prompt: PromptInput,
  opts: GenerateOptions = {},
): Promise<GenerateResult> {
  const loop = decodeLoop(model, prompt, opts);
  for (;;) {
    const r = await loop.next();
    if (r.done) return r.value;
  }
}

/**
 * Streams the new text of a single prompt as it is generated: yields pieces whose concatenation is
 * the final text (`generate(...).texts[0]`). A piece is emitted only once it decodes cleanly (no
 * half of a multi-byte character) and cannot be the start of a stop string. Returns the full result.
 *
 * @example
 * for await (const piece of stream(model, ids, { tokenizer: tok, stopStrings: ['\n'] })) process.stdout.write(piece);
 */
export async function* stream(
  model: GenerationModel,
  prompt: readonly number[],
  opts: GenerateOptions & { tokenizer: TokenDecoder },
): AsyncGenerator<string, GenerateResult> {
  if (!opts.tokenizer) throw new Error('stream: a tokenizer is required (GenerateOptions.tokenizer)');
  if (!Array.isArray(prompt) || (prompt.length > 0 && typeof prompt[0] !== 'number')) {
    throw new Error('stream: takes a single prompt (an array of token ids)');
  }
  const stopStrings = (opts.stopStrings ?? []).filter((s) => s.length > 0);
  const loop = decodeLoop(model, prompt, opts);
  let emitted = 0;
  try {
    for (;;) {
      const r = await loop.next();
      if (r.done) {
        const text = r.value.texts![0];
        if (text.length > emitted) yield text.slice(emitted);
        return r.value;
      }
      const text = r.value.texts![0];
      const end = r.value.finished[0] ? text.length : stableLength(text, stopStrings);
      if (end > emitted) {
        yield text.slice(emitted, end);
        emitted = end;
      }
    }
  } finally {
    // A consumer that stops early (break) must still free the loop's KV cache.
    await loop.return(undefined as never);
  }
}
