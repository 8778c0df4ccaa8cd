/**
 * The tokenizer stored in a GGUF file's metadata (`tokenizer.ggml.*`) as Hugging Face tokenizer
 * files, loaded by the native byte-level BPE tokenizer. Supported: `tokenizer.ggml.model` = `gpt2`
 * (byte-level BPE: `tokens`, `merges`, `token_type`), converted as `transformers`' GGUF loader
 * converts it (a GPT-2 layout: ByteLevel pre-tokenizer without prefix space, ByteLevel decoder);
 * control and user-defined tokens (token_type 3 and 4) become added tokens, so `<|im_start|>` in
 * a chat prompt is one id.
 */
import { byteLevelBPEFiles } from '../tokenizers/byte-level-bpe';
import { nativeTokenizerFromJSON } from '../tokenizers/load';
import type { Tokenizer, TokenizerConfigJSON, TokenizerJSON } from '../tokenizers/tokenizer';
import type { GgufHeader } from './gguf';

/** llama.cpp's `llama_token_type`. */
const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_USER_DEFINED = 4;

function strings(h: GgufHeader, key: string, source: string): string[] {
  const v = h.metadata.get(key);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${source}: GGUF metadata "${key}" must be an array of strings`);
  return v as string[];
}

function tokenId(h: GgufHeader, key: string, vocab: number, source: string): number | undefined {
  const v = h.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vocab) {
    throw new Error(`${source}: GGUF metadata "${key}" must be a token id in [0, ${vocab}), got ${String(v)}`);
  }
  return v;
}

/**
 * The `tokenizer.json` / `tokenizer_config.json` objects of a GGUF file's tokenizer (plus its
 * `chat_template`, if any, in the config). Throws naming the model type when it is not `gpt2`.
 */
export function ggufTokenizerFiles(h: GgufHeader, source: string): { json: TokenizerJSON; config: TokenizerConfigJSON } {
  const model = h.metadata.get('tokenizer.ggml.model');
  if (model !== 'gpt2') {
    throw new Error(`${source}: GGUF tokenizer model ${JSON.stringify(model ?? null)} is not supported (only "gpt2", byte-level BPE)`);
  }
  const tokens = strings(h, 'tokenizer.ggml.tokens', source);
  const merges = strings(h, 'tokenizer.ggml.merges', source).map((m, i): [string, string] => {
    const parts = m.split(' ');
    if (parts.length !== 2) throw new Error(`${source}: tokenizer.ggml.merges[${i}] ${JSON.stringify(m)} is not "left right"`);
    return [parts[0], parts[1]];
  });
  const types = h.metadata.get('tokenizer.ggml.token_type');
  const typeOf = (i: number): number => (Array.isArray(types) && typeof types[i] === 'number' ? (types[i] as number) : 1);
  const added = tokens.filter((_, i) => typeOf(i) === TOKEN_TYPE_CONTROL || typeOf(i) === TOKEN_TYPE_USER_DEFINED);
  const role = (key: string) => {
    const id = tokenId(h, key, tokens.length, source);
    return id === undefined ? undefined : tokens[id];
  };
  const special = {
    bos: role('tokenizer.ggml.bos_token_id'),
    eos: role('tokenizer.ggml.eos_token_id'),
    unk: role('tokenizer.ggml.unknown_token_id'),
    pad: role('tokenizer.ggml.padding_token_id'),
  };
  for (const t of Object.values(special)) if (t !== undefined && !added.includes(t)) added.push(t);
  const { json, config } = byteLevelBPEFiles({ vocab: tokens, merges, addedTokens: added, special });
  const chat = h.metadata.get('tokenizer.chat_template');
  if (typeof chat === 'string') config.chat_template = chat;
  return { json, config };
}

/**
 * The tokenizer of a GGUF file (see {@link ggufTokenizerFiles}).
 *
 * @example
 * const tok = ggufTokenizer(await readGgufHeader('model.gguf'), 'model.gguf');
 * tok.encode('<|im_start|>user', { addSpecialTokens: false }); // [1, 4093]
 */
export function ggufTokenizer(h: GgufHeader, source: string): Tokenizer {
  const { json, config } = ggufTokenizerFiles(h, source);
  const tok = nativeTokenizerFromJSON(json, config, undefined, `${source} (GGUF tokenizer)`);
  if (!tok) throw new Error(`${source}: the GGUF tokenizer could not be built as a byte-level BPE tokenizer`);
  return tok;
}
