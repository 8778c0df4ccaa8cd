/**
 * The tokenizer stored in a GGUF file's metadata (`tokenizer.ggml.*`) as Hugging Face tokenizer
 * files, loaded by the native byte-level BPE tokenizer. Supported: `tokenizer.ggml.model` = `gpt2`
 * (byte-level BPE: `tokens`, `merges`, `token_type`), converted as `transformers`' GGUF loader
 * (`integrations/gguf/gguf_tokenizer_mapping.py`) converts it: a GPT-2 layout (ByteLevel
 * pre-tokenizer with GPT-2's split regex, no prefix space; ByteLevel decoder); tokens spelled
 * outside the byte alphabet are respelled as their UTF-8 bytes; control and user-defined tokens
 * (token_type 3 and 4) become added tokens, so `<|im_start|>` in a chat prompt is one id.
 * Vocabularies whose `tokenizer.ggml.pre` asks transformers for another split regex (llama3,
 * qwen2, ...) are refused by name: the native tokenizer implements GPT-2's split only.
 */
import { BYTE_TO_CHAR, CHAR_TO_BYTE, toByteChars } from '../tokenizers/byte-level';
import { byteLevelBPEFiles } from '../tokenizers/byte-level-bpe';
import { nativeTokenizerFromJSON } from '../tokenizers/load';
import type { Tokenizer, TokenizerConfigJSON, TokenizerJSON } from '../tokenizers/tokenizer';
import type { GgufHeader } from './gguf';

/** llama.cpp's `llama_token_type`. */
const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_USER_DEFINED = 4;

/** `tokenizer.ggml.pre` values for which transformers replaces GPT-2's split regex. */
const OTHER_SPLITS = [
  'llama3',
  'llama-v3',
  'llama-bpe',
  'falcon3',
  'falcon-h1',
  'pixtral',
  'midm-2.0',
  'lfm2',
  'jina-v5-nano',
  'dbrx',
  'smaug-bpe',
  'tekken',
  'qwen2',
  'deepseek-r1-qwen',
  'kormo',
  'f2llmv2',
  'megrez',
  'qwen35',
  'gpt-4o',
  'llama4',
  'kanana2',
  'talkie',
  'minimax-m2',
];

const inAlphabet = (t: string) => Array.from(t).every((c) => CHAR_TO_BYTE.has(c));

function strings(h: GgufHeader, key: string, source: string): string[] {
  const v = h.metadata.get(key);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new Error(`${source}: GGUF metadata "${key}" must be an array of strings`);
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
export function ggufTokenizerFiles(
  h: GgufHeader,
  source: string,
): { json: TokenizerJSON; config: TokenizerConfigJSON } {
  const model = h.metadata.get('tokenizer.ggml.model');
  if (model !== 'gpt2') {
    throw new Error(
      `${source}: GGUF tokenizer model ${JSON.stringify(model ?? null)} is not supported (only "gpt2", byte-level BPE)`,
    );
  }
  const pre = h.metadata.get('tokenizer.ggml.pre');
  if (typeof pre === 'string' && OTHER_SPLITS.includes(pre)) {
    throw new Error(
      `${source}: GGUF tokenizer.ggml.pre "${pre}" uses a split regex other than GPT-2's, which the native tokenizer does not implement`,
    );
  }
  const original = strings(h, 'tokenizer.ggml.tokens', source);
  const tokens = original.map((t) => (inAlphabet(t) ? t : toByteChars(t)));
  const merges = strings(h, 'tokenizer.ggml.merges', source).map((m, i): [string, string] => {
    const parts = m.split(' ');
    if (parts.length !== 2)
      throw new Error(`${source}: tokenizer.ggml.merges[${i}] ${JSON.stringify(m)} is not "left right"`);
    return [parts[0], parts[1]];
  });
  const types = h.metadata.get('tokenizer.ggml.token_type');
  const typeOf = (i: number): number =>
    Array.isArray(types) && typeof types[i] === 'number' ? (types[i] as number) : 1;
  // As transformers: control tokens spelled in the byte alphabet, user-defined ones left unchanged by respelling.
  const added = original.filter(
    (t, i) => (typeOf(i) === TOKEN_TYPE_CONTROL || typeOf(i) === TOKEN_TYPE_USER_DEFINED) && inAlphabet(t),
  );
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
  // Built here rather than by byteLevelBPEFiles: real vocabularies may lack some byte symbols
  // (SmolLM2 has no token for a few control bytes), which that builder rightly refuses for trained ones.
  const { json: template, config } = byteLevelBPEFiles({
    vocab: [...BYTE_TO_CHAR, ...added.filter((t) => !BYTE_TO_CHAR.includes(t))],
    merges: [],
    addedTokens: added,
    special,
  });
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => {
    vocab[t] = i; // later duplicates win, as in transformers' dict
  });
  const json: TokenizerJSON = {
    ...template,
    added_tokens: added.map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    model: { ...(template.model as Record<string, unknown>), vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
  };
  config.added_tokens_decoder = Object.fromEntries(
    added.map((content) => [
      String(vocab[content]),
      { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
    ]),
  );
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
