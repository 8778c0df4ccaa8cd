/**
 * Loading any Hugging Face tokenizer directory (`tokenizer.json` +
 * `tokenizer_config.json`) through Hugging Face's tokenizers.js
 * (`@huggingface/tokenizers`: the tokenizer of transformers.js as a pure-JS package with no
 * dependencies), from local files only.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { readJsonObject } from '../io/model-dir';
import { resolveModel } from '../io/hub/resolve-model';
import { ByteLevelBPETokenizer } from './byte-level-bpe';
import { type NativeTokenizer, UnsupportedTokenizerError } from './native-tokenizer';
import {
  SPECIAL_TOKENS_MAP_FILE,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
  resolveSpecialTokenIds,
  saveTokenizerFiles,
  tokenizerFiles,
  type DecodeOptions,
  type EncodeOptions,
  type EncodingWithOffsets,
  type SpecialTokenIds,
  type Tokenizer,
  type TokenizerConfigJSON,
  type TokenizerJSON,
} from './tokenizer';
import { WordPieceTokenizer } from './wordpiece';

async function fileExists(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * The native tokenizer for a layout it implements exactly (BERT WordPiece,
 * GPT-2 byte-level BPE), or null. Used for offsets.
 */
export function nativeTokenizerFromJSON(
  json: TokenizerJSON,
  config: TokenizerConfigJSON = {},
  specialTokensMap?: Record<string, unknown>,
  source = 'tokenizer.json',
): NativeTokenizer | null {
  const type = (json.model as { type?: unknown } | undefined)?.type;
  try {
    if (type === 'WordPiece') return WordPieceTokenizer.fromJSON(json, config, specialTokensMap, source);
    if (type === 'BPE') return ByteLevelBPETokenizer.fromJSON(json, config, specialTokensMap, source);
  } catch (e) {
    if (e instanceof UnsupportedTokenizerError) return null;
    throw e;
  }
  return null;
}

/** Tokenizer classes whose encoding tokenizers.js does not alter beyond tokenizer.json. */
const PLAIN_TOKENIZER_CLASSES = new Set([
  undefined,
  'PreTrainedTokenizer',
  'BertTokenizer',
  'DistilBertTokenizer',
  'ElectraTokenizer',
  'MobileBertTokenizer',
  'SqueezeBertTokenizer',
  'ConvBertTokenizer',
  'MPNetTokenizer',
  'GPT2Tokenizer',
  'RobertaTokenizer',
  'BartTokenizer',
  'GPTNeoXTokenizer',
  'CodeGenTokenizer',
  'Qwen2Tokenizer',
  'BloomTokenizer',
  'FalconTokenizer',
]);

/** A tokenizers.js tokenizer behind the framework's {@link Tokenizer} interface. */
class HfJsTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokenIds;
  readonly supportsOffsets: boolean;

  constructor(
    private readonly inner: HfTokenizer,
    private readonly json: TokenizerJSON,
    private readonly config: TokenizerConfigJSON,
    private readonly specialTokensMap: Record<string, unknown> | undefined,
    private readonly native: NativeTokenizer | null,
    private readonly dir: string,
  ) {
    this.vocabSize = inner.get_vocab(true).size;
    this.special = resolveSpecialTokenIds((t) => this.tokenToId(t), config, specialTokensMap);
    this.supportsOffsets = native !== null;
  }

  encode(text: string, options?: EncodeOptions): number[] {
    return this.inner.encode(text, { add_special_tokens: options?.addSpecialTokens ?? true }).ids;
  }

  /**
   * Offsets come from the native re-implementation of this layout; its ids
   * are checked against tokenizers.js' on every call.
   */
  encodeWithOffsets(text: string, options?: EncodeOptions): EncodingWithOffsets {
    if (!this.native) {
      const model = (this.json.model as { type?: unknown })?.type;
      const pre = (this.json.pre_tokenizer as { type?: unknown } | null)?.type ?? null;
      throw new Error(
        `${path.join(this.dir, TOKENIZER_FILE)}: character offsets are only available for BERT WordPiece and GPT-2 ` +
          `byte-level BPE layouts (this one: model ${String(model)}, pre_tokenizer ${String(pre)})`,
      );
    }
    const enc = this.native.encodeWithOffsets(text, options);
    const ids = this.encode(text, options);
    if (ids.length !== enc.ids.length || ids.some((id, i) => id !== enc.ids[i])) {
      throw new Error(
        `${path.join(this.dir, TOKENIZER_FILE)}: offset computation disagrees with tokenizers.js on this text; offsets unavailable`,
      );
    }
    return enc;
  }

  decode(ids: readonly number[], options?: DecodeOptions): string {
    if (ids.length === 0) return '';
    return this.inner.decode([...ids], { skip_special_tokens: options?.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.inner.id_to_token(id);
  }

  toJSON(): TokenizerJSON {
    return structuredClone(this.json);
  }

  toFiles(): Record<string, string> {
    return tokenizerFiles(this.json, this.config, this.specialTokensMap);
  }

  async save(dir: string): Promise<void> {
    await saveTokenizerFiles(dir, this.toFiles());
  }
}

/**
 * Loads the tokenizer of a Hugging Face directory (or Hub id `org/name[@rev]`, fetched into
 * the HF cache by {@link resolveModel}) through tokenizers.js (never the network itself). `tokenizer.json` is required;
 * `tokenizer_config.json` and `special_tokens_map.json` are read when present.
 *
 * @example
 * const tok = await loadTokenizer('/work/shared/fixtures/hf-tiny/gpt2-tiny');
 * tok.encode('Hello world!', { addSpecialTokens: false });
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const absDir = path.resolve(await resolveModel(dir));
  const jsonPath = path.join(absDir, TOKENIZER_FILE);
  if (!(await fileExists(jsonPath))) {
    throw new Error(`${absDir}: no ${TOKENIZER_FILE} in this directory (a Hugging Face tokenizer directory needs one)`);
  }
  const json = await readJsonObject(jsonPath);
  if (!json.model || typeof json.model !== 'object') throw new Error(`${jsonPath}: missing the "model" object`);
  const configPath = path.join(absDir, TOKENIZER_CONFIG_FILE);
  const hasConfig = await fileExists(configPath);
  const config = hasConfig ? await readJsonObject(configPath) : {};
  const mapPath = path.join(absDir, SPECIAL_TOKENS_MAP_FILE);
  const specialMap = (await fileExists(mapPath)) ? await readJsonObject(mapPath) : undefined;

  let inner: HfTokenizer;
  try {
    inner = new HfTokenizer(json, config);
  } catch (e) {
    throw new Error(`${absDir}: tokenizers.js could not load this tokenizer: ${(e as Error).message}`);
  }
  const tokenizerClass =
    typeof config.tokenizer_class === 'string' ? config.tokenizer_class.replace(/Fast$/, '') : undefined;
  let native: NativeTokenizer | null = null;
  if (PLAIN_TOKENIZER_CLASSES.has(tokenizerClass)) {
    try {
      native = nativeTokenizerFromJSON(json, config, specialMap, jsonPath);
    } catch {
      native = null; // offsets unavailable; encoding still goes through tokenizers.js
    }
  }
  return new HfJsTokenizer(inner, json, config, specialMap, native, absDir);
}
