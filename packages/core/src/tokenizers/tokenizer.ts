/**
 * The tokenizer interface used across the framework, and the helpers that
 * read and write the Hugging Face tokenizer files (`tokenizer.json`,
 * `tokenizer_config.json`, `special_tokens_map.json`).
 */
import path from 'node:path';
import { atomicWriteFile } from '../io/atomic';

/** Ids of the special tokens a tokenizer defines (absent when it has none). */
export interface SpecialTokenIds {
  pad?: number;
  unk?: number;
  cls?: number;
  sep?: number;
  mask?: number;
  bos?: number;
  eos?: number;
}

/** Per-call encoding options. */
export interface EncodeOptions {
  /** Add the post-processor's special tokens (e.g. BERT's `[CLS] … [SEP]`); default true. */
  addSpecialTokens?: boolean;
}

/** Per-call decoding options. */
export interface DecodeOptions {
  /** Drop special tokens (`[CLS]`, `[PAD]`, `<s>`, …) from the output; default false. */
  skipSpecialTokens?: boolean;
}

/**
 * Ids with character offsets into the input text: token i came from
 * `text.slice(offsets[i][0], offsets[i][1])` (UTF-16 code units, end
 * exclusive). The spans of the text's tokens are in order and never overlap,
 * so cutting the text at token boundaries is safe; tokens added by the
 * post-processor (`[CLS]`, `[SEP]`) get `[0, 0]`.
 *
 * Where a token cannot be located on its own, it gets an empty span at the
 * end of the previous one: a byte-level token holding only continuation bytes
 * of a character (the character belongs to the token holding its first
 * byte), and the tokens after the first of a whitespace-delimited chunk whose
 * normalization depends on context (rare: e.g. Greek final sigma), the first
 * getting the whole chunk. Characters removed by normalization (accents,
 * controls) join the span of the character before them.
 */
export interface EncodingWithOffsets {
  ids: number[];
  offsets: Array<[number, number]>;
}

/** A `tokenizer.json` object (tokenizers 0.19 layout). */
export type TokenizerJSON = Record<string, unknown>;

/** A `tokenizer_config.json` object. */
export type TokenizerConfigJSON = Record<string, unknown>;

/**
 * A text tokenizer. Implementations: tokenizers loaded from a Hugging Face
 * directory ({@link loadTokenizer}, through transformers.js) and the native
 * WordPiece / byte-level BPE tokenizers (what the trainers return).
 *
 * @example
 * const tok = await loadTokenizer('fixtures/bert-tiny');
 * tok.encode('Hello, world!'); // [2, 38, 10, 39, 5, 3]
 * tok.decode([2, 38, 3], { skipSpecialTokens: true }); // 'hello'
 */
export interface Tokenizer {
  /** Number of ids (largest id + 1), i.e. the rows an embedding matrix needs. */
  readonly vocabSize: number;
  /** Ids of the special tokens. */
  readonly special: SpecialTokenIds;
  /** Whether {@link Tokenizer.encodeWithOffsets} works for this tokenizer. */
  readonly supportsOffsets: boolean;
  /** Text → ids. */
  encode(text: string, options?: EncodeOptions): number[];
  /** Text → ids with character offsets; throws when `supportsOffsets` is false. */
  encodeWithOffsets(text: string, options?: EncodeOptions): EncodingWithOffsets;
  /** Ids → text. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** Id of a vocabulary token, or undefined. */
  tokenToId(token: string): number | undefined;
  /** Token string of an id, or undefined. */
  idToToken(id: number): string | undefined;
  /** The `tokenizer.json` object. */
  toJSON(): TokenizerJSON;
  /** The tokenizer files by name (`tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`). */
  toFiles(): Record<string, string>;
  /** Writes {@link Tokenizer.toFiles} into `dir`, each file atomically. */
  save(dir: string): Promise<void>;
}

/** Names of the tokenizer files written by {@link Tokenizer.save}. */
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const SPECIAL_TOKENS_MAP_FILE = 'special_tokens_map.json';

/** tokenizer_config / special_tokens_map keys of each special-token role. */
export const SPECIAL_TOKEN_KEYS: Record<keyof SpecialTokenIds, string> = {
  pad: 'pad_token',
  unk: 'unk_token',
  cls: 'cls_token',
  sep: 'sep_token',
  mask: 'mask_token',
  bos: 'bos_token',
  eos: 'eos_token',
};

/** The token string of a config entry: `"[PAD]"` or `{content: "[PAD]", ...}`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/**
 * Resolves special-token ids from `tokenizer_config.json` (then
 * `special_tokens_map.json`) role entries.
 */
export function resolveSpecialTokenIds(
  tokenToId: (token: string) => number | undefined,
  ...sources: Array<Record<string, unknown> | undefined>
): SpecialTokenIds {
  const out: SpecialTokenIds = {};
  for (const [role, key] of Object.entries(SPECIAL_TOKEN_KEYS) as Array<[keyof SpecialTokenIds, string]>) {
    for (const src of sources) {
      const content = src ? tokenContent(src[key]) : undefined;
      if (content === undefined) continue;
      const id = tokenToId(content);
      if (id !== undefined) {
        out[role] = id;
        break;
      }
    }
  }
  return out;
}

/** The `special_tokens_map.json` object derived from a tokenizer config's role entries. */
export function specialTokensMapFromConfig(config: TokenizerConfigJSON): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.values(SPECIAL_TOKEN_KEYS)) {
    const content = tokenContent(config[key]);
    if (content !== undefined) out[key] = content;
  }
  return out;
}

/** Serializes the three tokenizer files (pretty JSON, trailing newline). */
export function tokenizerFiles(
  json: TokenizerJSON,
  config: TokenizerConfigJSON,
  specialTokensMap: Record<string, unknown> = specialTokensMapFromConfig(config),
): Record<string, string> {
  return {
    [TOKENIZER_FILE]: JSON.stringify(json, null, 2) + '\n',
    [TOKENIZER_CONFIG_FILE]: JSON.stringify(config, null, 2) + '\n',
    [SPECIAL_TOKENS_MAP_FILE]: JSON.stringify(specialTokensMap, null, 2) + '\n',
  };
}

/** Writes tokenizer files into `dir` (created if missing), each atomically. */
export async function saveTokenizerFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) await atomicWriteFile(path.join(dir, name), text);
}
