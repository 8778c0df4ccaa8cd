/**
 * Loading any Hugging Face tokenizer directory (`tokenizer.json` +
 * `tokenizer_config.json`) through transformers.js, from local files only.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { PreTrainedTokenizer } from '@xenova/transformers';
import { readJsonObject } from '../io/model-dir';
import { resolveModel } from '../io/hub/resolve-model';
import { ByteLevelBPETokenizer } from './byte-level-bpe';
import { NativeTokenizer, UnsupportedTokenizerError } from './native-tokenizer';
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

type TransformersJs = typeof import('@xenova/transformers');
let transformersJs: Promise<TransformersJs> | undefined;

/**
 * transformers.js, imported on first use (it loads native onnxruntime/sharp
 * modules, which processes that never load a tokenizer should not pay for).
 */
function importTransformersJs(): Promise<TransformersJs> {
  transformersJs ??= import('@xenova/transformers');
  return transformersJs;
}

/**
 * Points transformers.js at the local file system only: remote models off,
 * no file cache, and `localModelPath = '/'` so an absolute directory resolves
 * to itself. These are transformers.js' process-wide settings; this framework
 * never loads anything remote through it.
 */
function configureLocalOnly({ env }: TransformersJs): void {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = '/';
  env.useBrowserCache = false;
  (env as { useFSCache: boolean }).useFSCache = false;
}

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

/** Tokenizer classes whose encoding transformers.js does not alter beyond tokenizer.json. */
const PLAIN_TOKENIZER_CLASSES = new Set([
  undefined, 'PreTrainedTokenizer', 'BertTokenizer', 'DistilBertTokenizer', 'ElectraTokenizer', 'MobileBertTokenizer',
  'SqueezeBertTokenizer', 'ConvBertTokenizer', 'MPNetTokenizer', 'GPT2Tokenizer', 'RobertaTokenizer', 'BartTokenizer',
  'GPTNeoXTokenizer', 'CodeGenTokenizer', 'Qwen2Tokenizer', 'BloomTokenizer', 'FalconTokenizer',
]);

/** A transformers.js tokenizer behind the framework's {@link Tokenizer} interface. */
class TransformersJsTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokenIds;
  readonly supportsOffsets: boolean;

  constructor(
    private readonly inner: PreTrainedTokenizer,
    private readonly json: TokenizerJSON,
    private readonly config: TokenizerConfigJSON,
    private readonly specialTokensMap: Record<string, unknown> | undefined,
    private readonly native: NativeTokenizer | null,
    private readonly dir: string,
  ) {
    this.vocabSize = inner.model.vocab.length;
    this.special = resolveSpecialTokenIds((t) => this.tokenToId(t), config, specialTokensMap);
    this.supportsOffsets = native !== null;
  }

  encode(text: string, options?: EncodeOptions): number[] {
    return this.inner.encode(text, null, { add_special_tokens: options?.addSpecialTokens ?? true });
  }

  /**
   * Offsets come from the native re-implementation of this layout; its ids
   * are checked against transformers.js' on every call.
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
      throw new Error(`${path.join(this.dir, TOKENIZER_FILE)}: offset computation disagrees with transformers.js on this text; offsets unavailable`);
    }
    return enc;
  }

  decode(ids: readonly number[], options?: DecodeOptions): string {
    if (ids.length === 0) return '';
    return this.inner.decode([...ids], { skip_special_tokens: options?.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.inner.model.tokens_to_ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.inner.model.vocab[id];
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
 * the HF cache by {@link resolveModel}) through transformers.js (which never touches the network). `tokenizer.json` is required;
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

  let inner: PreTrainedTokenizer;
  try {
    const tjs = await importTransformersJs();
    if (hasConfig) {
      configureLocalOnly(tjs);
      inner = await tjs.AutoTokenizer.from_pretrained(absDir, { local_files_only: true });
    } else {
      inner = new tjs.PreTrainedTokenizer(json, config); // transformers.js requires tokenizer_config.json; build directly
    }
  } catch (e) {
    throw new Error(`${absDir}: transformers.js could not load this tokenizer: ${(e as Error).message}`);
  }
  const tokenizerClass = typeof config.tokenizer_class === 'string' ? config.tokenizer_class.replace(/Fast$/, '') : undefined;
  let native: NativeTokenizer | null = null;
  if (PLAIN_TOKENIZER_CLASSES.has(tokenizerClass)) {
    try {
      native = nativeTokenizerFromJSON(json, config, specialMap, jsonPath);
    } catch {
      native = null; // offsets unavailable; encoding still goes through transformers.js
    }
  }
  return new TransformersJsTokenizer(inner, json, config, specialMap, native, absDir);
}
