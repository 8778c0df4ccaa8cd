/**
 * Which files of a model repo a download fetches: configs, safetensors weights (single or sharded),
 * tokenizer files, sentence-transformers module files, prompt/generation configs, PEFT adapter
 * files; or one GGUF file. Everything else (README, other weight formats, ONNX, images) stays
 * on the Hub.
 */

/** Top-level files fetched when the repo has them. */
export const MODEL_METADATA_FILES: readonly string[] = Object.freeze([
  'config.json',
  'generation_config.json',
  // tokenizer
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.txt',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
  'chat_template.jinja',
  'chat_template.json',
  // sentence-transformers
  'modules.json',
  'sentence_bert_config.json',
  'config_sentence_transformers.json',
  // dalm's own prompt format, PEFT adapters
  'prompt_format.json',
  'adapter_config.json',
]);

export const SAFETENSORS_FILE = 'model.safetensors';
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** sentence-transformers module folders (`1_Pooling/`, `2_Dense/`, `3_Normalize/`, …): all files but non-safetensors weights. */
const MODULE_DIR_RE = /^\d+_[A-Za-z]+\/[^/]+$/;
const OTHER_WEIGHTS_RE = /\.(bin|pt|pth|h5|msgpack|ot|onnx|ckpt|tflite)$/i;

/** GGUF files preferred, in order, when a GGUF-only repo holds several (float types load without dequantisation loss). */
export const GGUF_PREFERENCE: readonly string[] = Object.freeze(['f32', 'f16', 'bf16', 'q8_0']);

/** What to fetch from a repo, given its file list. `shards` come later from the index file. */
export interface ModelFileSelection {
  /** Files to fetch now. */
  files: string[];
  /** The GGUF file when the model is one, else null. */
  gguf: string | null;
  /** Whether `model.safetensors.index.json` is among `files` (its shards are fetched after it). */
  sharded: boolean;
}

/**
 * Picks the files a model needs from the repo's file list; `ggufFile` when the id named one.
 * Errors say what the repo holds instead.
 *
 * @example selectModelFiles(['config.json', 'model.safetensors', 'README.md', 'pytorch_model.bin'], null, 'o/n');
 * // { files: ['config.json', 'model.safetensors'], gguf: null, sharded: false }
 */
export function selectModelFiles(
  repoFiles: readonly string[],
  ggufFile: string | null,
  repo: string,
): ModelFileSelection {
  const have = new Set(repoFiles);
  const ggufs = repoFiles.filter((f) => f.toLowerCase().endsWith('.gguf'));
  if (ggufFile) {
    if (!have.has(ggufFile)) {
      throw new Error(`${repo}: no file ${ggufFile} in the repo (GGUF files there: ${ggufs.join(', ') || 'none'})`);
    }
    return { files: [ggufFile], gguf: ggufFile, sharded: false };
  }
  const meta = MODEL_METADATA_FILES.filter((f) => have.has(f));
  const modules = repoFiles.filter((f) => MODULE_DIR_RE.test(f) && !OTHER_WEIGHTS_RE.test(f));
  const weights: string[] = [];
  let sharded = false;
  if (have.has(SAFETENSORS_INDEX_FILE)) {
    weights.push(SAFETENSORS_INDEX_FILE);
    sharded = true;
  } else if (have.has(SAFETENSORS_FILE)) {
    weights.push(SAFETENSORS_FILE);
  }
  if (have.has(ADAPTER_WEIGHTS_FILE)) weights.push(ADAPTER_WEIGHTS_FILE);
  if (weights.length === 0) {
    if (ggufs.length > 0) {
      const gguf = pickGguf(ggufs, repo);
      return { files: [gguf], gguf, sharded: false };
    }
    const other = repoFiles.filter((f) => OTHER_WEIGHTS_RE.test(f));
    throw new Error(
      `${repo}: no safetensors or GGUF weights in the repo${other.length ? ` (it has ${other.slice(0, 5).join(', ')})` : ''}; ` +
        'dalm loads model.safetensors (single or sharded) or a .gguf file',
    );
  }
  return { files: [...meta, ...modules, ...weights], gguf: null, sharded };
}

/** The one GGUF file of a GGUF-only repo: the only one, else the first float type by {@link GGUF_PREFERENCE}. */
function pickGguf(ggufs: readonly string[], repo: string): string {
  if (ggufs.length === 1) return ggufs[0];
  for (const kind of GGUF_PREFERENCE) {
    const hit = ggufs.find((f) => new RegExp(`[-_.]${kind}\\.gguf$`, 'i').test(f));
    if (hit) return hit;
  }
  throw new Error(`${repo}: the repo has several GGUF files (${ggufs.join(', ')}); name one as ${repo}/<file>.gguf`);
}

/** The shard files named by a `model.safetensors.index.json` (its `weight_map` values), checked to stay inside the repo. */
export function shardFiles(index: unknown, indexFile: string): string[] {
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map))
    throw new Error(`${indexFile}: no "weight_map" object`);
  const shards = [...new Set(Object.values(map as Record<string, unknown>))];
  for (const s of shards) {
    if (typeof s !== 'string' || !s.endsWith('.safetensors') || s.startsWith('/') || s.split('/').includes('..')) {
      throw new Error(
        `${indexFile}: weight_map names ${JSON.stringify(s)}; expected a relative .safetensors file name`,
      );
    }
  }
  return shards as string[];
}
