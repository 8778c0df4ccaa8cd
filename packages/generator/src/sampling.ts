/**
 * Next-token selection as pure functions over one row of logits, in the order HF applies them:
 * repetition penalty → temperature → top-k → top-p → draw (or argmax when not sampling).
 * Filters return new arrays and mark removed tokens with −Infinity; nothing here touches tensors.
 */
import type { Rng } from '@dalm/core';

/** Index of the largest logit; the first one on ties (as `torch.argmax`). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Numerically stable softmax in float64; −Infinity logits get probability 0. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const out = new Float64Array(logits.length);
  if (max === -Infinity) throw new Error('softmax: every logit is -Infinity');
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/**
 * Repetition penalty (Keskar et al., 2019, "CTRL"), HF semantics: for every distinct id in
 * `previous`, a positive logit is divided by `penalty` and a negative one multiplied by it, so
 * penalty > 1 always makes a seen token less likely. penalty = 1 is a no-op.
 */
export function applyRepetitionPenalty(
  logits: ArrayLike<number>,
  previous: Iterable<number>,
  penalty: number,
): Float32Array {
  if (!(penalty > 0)) throw new Error(`repetitionPenalty must be > 0, got ${penalty}`);
  const out = Float32Array.from(logits);
  if (penalty === 1) return out;
  for (const id of new Set(previous)) {
    if (id < 0 || id >= out.length) continue;
    const l = out[id];
    out[id] = l < 0 ? l * penalty : l / penalty;
  }
  return out;
}

/** Divides every logit by `temperature` (> 0): below 1 sharpens, above 1 flattens. */
export function applyTemperature(logits: ArrayLike<number>, temperature: number): Float32Array {
  if (!(temperature > 0)) throw new Error(`temperature must be > 0 to scale logits, got ${temperature}`);
  const out = Float32Array.from(logits);
  if (temperature === 1) return out;
  for (let i = 0; i < out.length; i++) out[i] /= temperature;
  return out;
}

/**
 * Keeps the `k` largest logits (and any tied with the k-th), sets the rest to −Infinity.
 * k ≤ 0 or k ≥ vocabulary size keeps everything.
 */
export function topKFilter(logits: ArrayLike<number>, k: number): Float32Array {
  const out = Float32Array.from(logits);
  if (!(k > 0) || k >= out.length) return out;
  const threshold = Float32Array.from(out).sort((a, b) => b - a)[Math.floor(k) - 1];
  for (let i = 0; i < out.length; i++) if (out[i] < threshold) out[i] = -Infinity;
  return out;
}

/**
 * Nucleus filter (Holtzman et al., 2020): keeps the most likely tokens, in order of probability,
 * until their cumulative probability reaches `p`, the token that crosses p included (HF: a token
 * is removed when the probability mass strictly above it is already ≥ p). At least `minKeep`
 * tokens stay. p ≥ 1 keeps everything.
 */
export function topPFilter(logits: ArrayLike<number>, p: number, minKeep = 1): Float32Array {
  if (!(p > 0)) throw new Error(`topP must be in (0, 1], got ${p}`);
  const out = Float32Array.from(logits);
  if (p >= 1) return out;
  const probs = softmax(out);
  const order = Array.from(out.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
  let above = 0;
  for (let rank = 0; rank < order.length; rank++) {
    const id = order[rank];
    if (above >= p && rank >= minKeep) out[id] = -Infinity;
    above += probs[id];
  }
  return out;
}

/** Inverse-CDF draw: the first index whose cumulative probability exceeds `u` ∈ [0, 1). */
export function sampleIndex(probs: ArrayLike<number>, u: number): number {
  let cum = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] <= 0) continue;
    cum += probs[i];
    last = i;
    if (u < cum) return i;
  }
  if (last < 0) throw new Error('sampleIndex: no token has positive probability');
  return last; // u fell past a cumulative sum that rounded below 1
}

/** Per-call decoding settings that pick the next token. */
export interface SamplingOptions {
  /** 0 (default) = greedy argmax; > 0 samples from softmax(logits / temperature). */
  temperature?: number;
  /** Sample only among the k most likely tokens (0 = off). */
  topK?: number;
  /** Sample only from the smallest set of tokens whose probability reaches p (1 = off). */
  topP?: number;
  /** > 1 discourages tokens already in the sequence (1 = off); applies to greedy decoding too. */
  repetitionPenalty?: number;
}

/**
 * Picks the next token from one row of logits. `history` is every real (non-pad) token of the
 * sequence so far, for the repetition penalty. `rng` is only drawn from when sampling.
 *
 * @example
 * const rng = new Rng(7);
 * nextToken(new Float32Array([1, 3, 2]), [1], { temperature: 0.7, topK: 2 }, rng); // 1 or 2
 */
export function nextToken(
  logits: ArrayLike<number>,
  history: Iterable<number>,
  opts: SamplingOptions,
  rng: Rng,
): number {
  let scores = applyRepetitionPenalty(logits, history, opts.repetitionPenalty ?? 1);
  const temperature = opts.temperature ?? 0;
  if (temperature < 0) throw new Error(`temperature must be >= 0, got ${temperature}`);
  if (temperature === 0) return argmax(scores);
  scores = applyTemperature(scores, temperature);
  scores = topKFilter(scores, opts.topK ?? 0);
  scores = topPFilter(scores, opts.topP ?? 1);
  return sampleIndex(softmax(scores), rng.next());
}
