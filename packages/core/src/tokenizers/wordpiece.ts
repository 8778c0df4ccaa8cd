/**
 * Native WordPiece tokenizer (BERT): BertNormalizer → BertPreTokenizer →
 * greedy longest-match-first WordPiece with a `##` continuation prefix →
 * `[CLS] $A [SEP]` template. Gives the same ids as transformers.js 2.x on the
 * same tokenizer.json, plus character offsets.
 */
import {
  parseBertNormalizer,
  bertNormalize,
  bertNormalizeWithOffsets,
  bertNormalizerJSON,
  bertPreTokenize,
} from './bert-normalizer';
import type { BertNormalizerOptions, Span } from './bert-normalizer';
import {
  NativeTokenizer,
  UnsupportedTokenizerError,
  cleanUpTokenization,
  parseVocab,
  type TokenPiece,
} from './native-tokenizer';
import type { TokenizerConfigJSON, TokenizerJSON } from './tokenizer';

/** Special-token strings of a BERT-style tokenizer. */
export interface BertSpecialTokens {
  pad: string;
  unk: string;
  cls: string;
  sep: string;
  mask: string;
}

/** BERT's special tokens; trained vocabularies put them at ids 0..4 in this order. */
export const DEFAULT_BERT_SPECIAL_TOKENS: Readonly<BertSpecialTokens> = Object.freeze({
  pad: '[PAD]',
  unk: '[UNK]',
  cls: '[CLS]',
  sep: '[SEP]',
  mask: '[MASK]',
});

/** Everything that defines a WordPiece tokenizer's files. */
export interface WordPieceLayout {
  /** Token of each id (index = id); contains every special token. */
  vocab: string[];
  /** Tokens registered as special added tokens (e.g. the five BERT ones). */
  addedTokens: string[];
  /** Role of each special token. */
  special: BertSpecialTokens;
  /** Normalizer options. */
  normalizer: BertNormalizerOptions;
  /** Prefix of non-initial pieces; default '##'. */
  continuingSubwordPrefix?: string;
  /** Longer words become the unk token; default 100. */
  maxInputCharsPerWord?: number;
  /** Written to tokenizer_config.json when given. */
  modelMaxLength?: number;
}

/** Builds the tokenizer.json and tokenizer_config.json objects of a WordPiece layout. */
export function wordPieceFiles(layout: WordPieceLayout): { json: TokenizerJSON; config: TokenizerConfigJSON } {
  const ids = new Map<string, number>();
  layout.vocab.forEach((t, i) => {
    if (ids.has(t))
      throw new Error(`WordPiece vocab: token ${JSON.stringify(t)} appears twice (ids ${ids.get(t)} and ${i})`);
    ids.set(t, i);
  });
  const idOf = (t: string): number => {
    const id = ids.get(t);
    if (id === undefined)
      throw new Error(`WordPiece vocab: special token ${JSON.stringify(t)} is missing from the vocabulary`);
    return id;
  };
  const { cls, sep } = layout.special;
  for (const t of Object.values(layout.special)) idOf(t);
  const addedTokens = layout.addedTokens.map((content) => ({
    id: idOf(content),
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const specialTokenEntry = (t: string) => ({ id: t, ids: [idOf(t)], tokens: [t] });
  const json: TokenizerJSON = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: bertNormalizerJSON(layout.normalizer),
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: { [cls]: specialTokenEntry(cls), [sep]: specialTokenEntry(sep) },
    },
    decoder: { type: 'WordPiece', prefix: layout.continuingSubwordPrefix ?? '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: layout.special.unk,
      continuing_subword_prefix: layout.continuingSubwordPrefix ?? '##',
      max_input_chars_per_word: layout.maxInputCharsPerWord ?? 100,
      vocab: Object.fromEntries(layout.vocab.map((t, i) => [t, i])),
    },
  };
  const config: TokenizerConfigJSON = {
    added_tokens_decoder: Object.fromEntries(
      addedTokens.map((t) => [
        String(t.id),
        { content: t.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
      ]),
    ),
    clean_up_tokenization_spaces: true,
    cls_token: cls,
    do_basic_tokenize: true,
    do_lower_case: layout.normalizer.lowercase,
    mask_token: layout.special.mask,
    ...(layout.modelMaxLength !== undefined ? { model_max_length: layout.modelMaxLength } : {}),
    never_split: null,
    pad_token: layout.special.pad,
    sep_token: sep,
    strip_accents: layout.normalizer.stripAccents,
    tokenize_chinese_chars: layout.normalizer.handleChineseChars,
    tokenizer_class: 'BertTokenizer',
    unk_token: layout.special.unk,
  };
  return { json, config };
}

/** A WordPiece tokenizer running in-process, with offsets. */
export class WordPieceTokenizer extends NativeTokenizer {
  private readonly normalizer: BertNormalizerOptions | null;
  private readonly splitWords: boolean;
  private readonly prefix: string;
  private readonly maxChars: number;
  private readonly unk: string;
  private readonly decoderPrefix: string | null;
  private readonly decoderCleanup: boolean;

  private constructor(
    json: TokenizerJSON,
    config: TokenizerConfigJSON,
    specialMap: Record<string, unknown> | undefined,
    source: string,
  ) {
    const model = json.model as Record<string, unknown>;
    const vocab = parseVocab(model.vocab, source);
    super(json, config, specialMap, vocab, source);
    const norm = json.normalizer as Record<string, unknown> | null | undefined;
    this.normalizer = norm ? parseBertNormalizer(norm) : null;
    this.splitWords = !!json.pre_tokenizer;
    this.prefix = typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '##';
    this.maxChars = typeof model.max_input_chars_per_word === 'number' ? model.max_input_chars_per_word : 100;
    if (typeof model.unk_token !== 'string') throw new Error(`${source}: WordPiece model needs an "unk_token"`);
    this.unk = model.unk_token;
    const dec = json.decoder as Record<string, unknown> | null | undefined;
    this.decoderPrefix = dec ? (typeof dec.prefix === 'string' ? dec.prefix : '##') : null;
    this.decoderCleanup = dec?.cleanup === true;
  }

  /**
   * Builds the tokenizer from tokenizer.json (+ tokenizer_config.json)
   * objects. Throws {@link UnsupportedTokenizerError} for components other
   * than BertNormalizer / BertPreTokenizer / WordPiece decoder.
   */
  static fromJSON(
    json: TokenizerJSON,
    config: TokenizerConfigJSON = {},
    specialTokensMap?: Record<string, unknown>,
    source = 'tokenizer.json',
  ): WordPieceTokenizer {
    const model = json.model as Record<string, unknown> | undefined;
    const typeOf = (x: unknown): unknown => (x && typeof x === 'object' ? (x as { type?: unknown }).type : x);
    const unsupported = (what: string, v: unknown): never => {
      throw new UnsupportedTokenizerError(
        `${source}: ${what} ${JSON.stringify(typeOf(v))} is not supported by the native WordPiece tokenizer`,
      );
    };
    if (typeOf(model) !== 'WordPiece') unsupported('model type', model);
    if (json.normalizer && typeOf(json.normalizer) !== 'BertNormalizer') unsupported('normalizer', json.normalizer);
    if (json.pre_tokenizer && typeOf(json.pre_tokenizer) !== 'BertPreTokenizer')
      unsupported('pre_tokenizer', json.pre_tokenizer);
    if (json.decoder && typeOf(json.decoder) !== 'WordPiece') unsupported('decoder', json.decoder);
    return new WordPieceTokenizer(json, config, specialTokensMap, source);
  }

  /**
   * A BERT-style tokenizer over a given vocabulary (index = id), e.g. the
   * lines of a `vocab.txt`.
   *
   * @example
   * const tok = WordPieceTokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'play', '##ing']);
   * tok.encode('Playing'); // [2, 5, 6, 3]
   */
  static fromVocab(
    vocab: string[],
    options: Partial<Omit<WordPieceLayout, 'vocab' | 'normalizer'>> & {
      normalizer?: Partial<BertNormalizerOptions>;
    } = {},
  ): WordPieceTokenizer {
    const special = { ...DEFAULT_BERT_SPECIAL_TOKENS, ...options.special };
    const { json, config } = wordPieceFiles({
      ...options,
      vocab,
      special,
      addedTokens: options.addedTokens ?? [...new Set(Object.values(special))],
      normalizer: {
        cleanText: true,
        handleChineseChars: true,
        stripAccents: null,
        lowercase: true,
        ...options.normalizer,
      },
    });
    return WordPieceTokenizer.fromJSON(json, config);
  }

  protected tokenizeText(text: string, withOffsets: boolean): TokenPiece[] {
    let normalized = text;
    let starts: number[] | null = null;
    let ends: number[] | null = null;
    if (this.normalizer) {
      if (withOffsets) ({ text: normalized, starts, ends } = bertNormalizeWithOffsets(text, this.normalizer));
      else normalized = bertNormalize(text, this.normalizer);
    }
    if (normalized.length === 0) return [];
    const words: Span[] = this.splitWords
      ? bertPreTokenize(normalized)
      : [{ text: normalized, start: 0, end: normalized.length }];
    const out: TokenPiece[] = [];
    for (const word of words) {
      for (const p of this.wordPieces(word.text)) {
        const s = word.start + p.start;
        const e = word.start + p.end;
        out.push({ token: p.token, start: starts ? starts[s] : s, end: ends ? ends[e - 1] : e });
      }
    }
    return out;
  }

  /** Greedy longest-match-first split of one word; spans in UTF-16 units of the word. */
  private wordPieces(word: string): TokenPiece[] {
    const chars = [...word];
    if (chars.length > this.maxChars) return [{ token: this.unk, start: 0, end: word.length }];
    const unitPos = [0];
    for (const c of chars) unitPos.push(unitPos[unitPos.length - 1] + c.length);
    const out: TokenPiece[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | null = null;
      while (start < end) {
        const sub = (start > 0 ? this.prefix : '') + word.slice(unitPos[start], unitPos[end]);
        if (this.tokenToId(sub) !== undefined) {
          // model vocab + added tokens, as transformers.js
          found = sub;
          break;
        }
        end--;
      }
      if (found === null) return [{ token: this.unk, start: 0, end: word.length }];
      out.push({ token: found, start: unitPos[start], end: unitPos[end] });
      start = end;
    }
    return out;
  }

  protected decodeTokens(tokens: string[]): string {
    if (this.decoderPrefix === null) return tokens.join(' ');
    const prefix = this.decoderPrefix;
    return tokens
      .map((token, i) => {
        if (i !== 0) token = token.startsWith(prefix) ? token.replace(prefix, '') : ' ' + token;
        return this.decoderCleanup ? cleanUpTokenization(token) : token;
      })
      .join('');
  }
}
