/**
 * Native byte-level BPE tokenizer (GPT-2 style): ByteLevel pre-tokenizer
 * (GPT-2 regex, no prefix space) → bytes as the 256-symbol alphabet → BPE
 * merges by rank → ByteLevel decoder. Gives the same ids as transformers.js
 * 2.x on the same tokenizer.json, plus character offsets.
 */
import { BYTE_TO_CHAR, ByteSpans, byteLevelSplit, fromByteChars, toByteChars } from './byte-level';
import { NativeTokenizer, UnsupportedTokenizerError, parseVocab, type TokenPiece } from './native-tokenizer';
import { PriorityQueue } from './priority-queue';
import type { TokenizerConfigJSON, TokenizerJSON } from './tokenizer';

/** Special-token strings of a decoder tokenizer (a role may be absent). */
export interface DecoderSpecialTokens {
  unk?: string;
  bos?: string;
  eos?: string;
  pad?: string;
}

/** Everything that defines a byte-level BPE tokenizer's files. */
export interface ByteLevelBPELayout {
  /** Token of each id (index = id): special tokens, the 256 byte symbols, merge results. */
  vocab: string[];
  /** Merges in priority order, as [left, right] symbol pairs. */
  merges: Array<[string, string]>;
  /** Tokens registered as special added tokens. */
  addedTokens: string[];
  /** Roles of special tokens. */
  special: DecoderSpecialTokens;
  /** Written to tokenizer_config.json when given. */
  modelMaxLength?: number;
}

/** Builds the tokenizer.json and tokenizer_config.json objects of a byte-level BPE layout. */
export function byteLevelBPEFiles(layout: ByteLevelBPELayout): { json: TokenizerJSON; config: TokenizerConfigJSON } {
  const ids = new Map<string, number>();
  layout.vocab.forEach((t, i) => {
    if (ids.has(t)) throw new Error(`BPE vocab: token ${JSON.stringify(t)} appears twice (ids ${ids.get(t)} and ${i})`);
    ids.set(t, i);
  });
  for (const b of BYTE_TO_CHAR)
    if (!ids.has(b)) throw new Error(`BPE vocab: byte symbol ${JSON.stringify(b)} is missing`);
  const addedTokens = layout.addedTokens.map((content) => {
    const id = ids.get(content);
    if (id === undefined)
      throw new Error(`BPE vocab: special token ${JSON.stringify(content)} is missing from the vocabulary`);
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  for (const [role, t] of Object.entries(layout.special)) {
    if (t !== undefined && !ids.has(t))
      throw new Error(`BPE vocab: ${role} token ${JSON.stringify(t)} is missing from the vocabulary`);
  }
  for (const [a, b] of layout.merges) {
    if (a.includes(' ') || b.includes(' ')) throw new Error(`BPE merge [${a}, ${b}]: symbols cannot contain spaces`);
  }
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json: TokenizerJSON = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: layout.special.unk ?? null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(layout.vocab.map((t, i) => [t, i])),
      merges: layout.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const { unk, bos, eos, pad } = layout.special;
  const config: TokenizerConfigJSON = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(
      addedTokens.map((t) => [
        String(t.id),
        { content: t.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
      ]),
    ),
    ...(bos !== undefined ? { bos_token: bos } : {}),
    // Byte-level decoding is exact: no English clean-up of spaces.
    clean_up_tokenization_spaces: false,
    ...(eos !== undefined ? { eos_token: eos } : {}),
    errors: 'replace',
    ...(layout.modelMaxLength !== undefined ? { model_max_length: layout.modelMaxLength } : {}),
    ...(pad !== undefined ? { pad_token: pad } : {}),
    tokenizer_class: 'GPT2Tokenizer',
    ...(unk !== undefined ? { unk_token: unk } : {}),
  };
  return { json, config };
}

interface MergeCandidate {
  rank: number;
  pos: number;
  left: number;
  leftTok: string;
  rightTok: string;
}

/** Caps the per-tokenizer cache of BPE results per pre-token. */
const CACHE_LIMIT = 100_000;

/** A byte-level BPE tokenizer running in-process, with offsets. */
export class ByteLevelBPETokenizer extends NativeTokenizer {
  private readonly ranks: Map<string, number>;
  private readonly ignoreMerges: boolean;
  private readonly useRegex: boolean;
  private readonly cache = new Map<string, Array<[string, number, number]>>();

  private constructor(
    json: TokenizerJSON,
    config: TokenizerConfigJSON,
    specialMap: Record<string, unknown> | undefined,
    source: string,
  ) {
    const model = json.model as Record<string, unknown>;
    super(json, config, specialMap, parseVocab(model.vocab, source), source);
    if (!Array.isArray(model.merges)) throw new Error(`${source}: BPE model needs a "merges" array`);
    this.ranks = new Map();
    model.merges.forEach((m: unknown, i: number) => {
      const key = typeof m === 'string' ? m : Array.isArray(m) && m.length === 2 ? `${m[0]} ${m[1]}` : null;
      if (key === null) throw new Error(`${source}: merges[${i}] must be "left right" or [left, right]`);
      if (!this.ranks.has(key)) this.ranks.set(key, i);
    });
    this.ignoreMerges = model.ignore_merges === true;
    this.useRegex = (json.pre_tokenizer as Record<string, unknown>).use_regex !== false;
  }

  /**
   * Builds the tokenizer from tokenizer.json (+ tokenizer_config.json)
   * objects. Throws {@link UnsupportedTokenizerError} unless the layout is
   * BPE + ByteLevel pre-tokenizer (no prefix space) + no normalizer + ByteLevel decoder.
   */
  static fromJSON(
    json: TokenizerJSON,
    config: TokenizerConfigJSON = {},
    specialTokensMap?: Record<string, unknown>,
    source = 'tokenizer.json',
  ): ByteLevelBPETokenizer {
    const model = (json.model ?? {}) as Record<string, unknown>;
    const pre = json.pre_tokenizer as Record<string, unknown> | null | undefined;
    const dec = json.decoder as Record<string, unknown> | null | undefined;
    const fail = (why: string): never => {
      throw new UnsupportedTokenizerError(`${source}: ${why} is not supported by the native byte-level BPE tokenizer`);
    };
    if (model.type !== 'BPE') fail(`model type ${JSON.stringify(model.type)}`);
    if (json.normalizer) fail('a normalizer');
    if (pre?.type !== 'ByteLevel' || pre.add_prefix_space === true)
      fail('a pre_tokenizer other than ByteLevel(add_prefix_space=false)');
    if (dec?.type !== 'ByteLevel') fail(`decoder ${JSON.stringify(dec?.type ?? null)}`);
    if (
      model.byte_fallback ||
      model.end_of_word_suffix ||
      model.continuing_subword_prefix ||
      model.continuing_subword_suffix
    ) {
      fail('byte_fallback / subword prefixes or suffixes');
    }
    if (typeof model.dropout === 'number' && model.dropout > 0) fail('BPE dropout');
    return new ByteLevelBPETokenizer(json, config, specialTokensMap, source);
  }

  /** The merges in priority order. */
  merges(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const key of this.ranks.keys()) {
      const i = key.indexOf(' ');
      out.push([key.slice(0, i), key.slice(i + 1)]);
    }
    return out;
  }

  protected tokenizeText(text: string, withOffsets: boolean): TokenPiece[] {
    const out: TokenPiece[] = [];
    for (const span of byteLevelSplit(text, this.useRegex)) {
      const spans = withOffsets ? new ByteSpans(span.text) : null;
      for (const [token, b0, b1] of this.bpe(span.text)) {
        if (!spans) {
          out.push({ token, start: 0, end: 0 });
          continue;
        }
        const [s, e] = spans.span(b0, b1);
        out.push({ token, start: span.start + s, end: span.start + e });
      }
    }
    return out;
  }

  /** BPE of one pre-token (raw text): [token, firstByte, endByte) per piece. */
  private bpe(piece: string): Array<[string, number, number]> {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    const word = toByteChars(piece);
    let result: Array<[string, number, number]>;
    if (this.ignoreMerges && this.tokenToId(word) !== undefined) {
      result = [[word, 0, word.length]];
    } else {
      result = this.applyMerges(word);
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, result);
    return result;
  }

  /** Repeatedly merges the adjacent pair of lowest rank (leftmost first on ties). */
  private applyMerges(word: string): Array<[string, number, number]> {
    const n = word.length; // byte characters are single UTF-16 units
    const tok = Array.from(word);
    const start = tok.map((_, i) => i);
    const end = tok.map((_, i) => i + 1);
    const next = tok.map((_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = tok.map((_, i) => i - 1);
    const alive = new Array<boolean>(n).fill(true);
    const queue = new PriorityQueue<MergeCandidate>((a, b) => a.rank < b.rank || (a.rank === b.rank && a.pos < b.pos));
    const consider = (left: number): void => {
      const right = next[left];
      if (right < 0) return;
      const rank = this.ranks.get(`${tok[left]} ${tok[right]}`);
      if (rank !== undefined) queue.push({ rank, pos: start[left], left, leftTok: tok[left], rightTok: tok[right] });
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    for (let c = queue.pop(); c !== undefined; c = queue.pop()) {
      const { left } = c;
      const right = next[left];
      if (!alive[left] || right < 0 || tok[left] !== c.leftTok || tok[right] !== c.rightTok) continue; // stale
      tok[left] += tok[right];
      end[left] = end[right];
      alive[right] = false;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      if (prev[left] >= 0) consider(prev[left]);
      consider(left);
    }
    const out: Array<[string, number, number]> = [];
    for (let i = 0; i >= 0 && i < n; i = next[i]) out.push([tok[i], start[i], end[i]]);
    return out;
  }

  protected decodeTokens(tokens: string[]): string {
    let out = '';
    let run = '';
    for (const t of tokens) {
      if (this.isAddedToken(t)) {
        out += fromByteChars(run) + t;
        run = '';
      } else {
        run += t;
      }
    }
    return out + fromByteChars(run);
  }
}
