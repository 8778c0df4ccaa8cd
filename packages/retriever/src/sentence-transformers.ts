/**
 * The sentence-transformers layout of a bi-encoder directory, so a saved encoder also loads with
 * `SentenceTransformer(dir)` and a sentence-transformers checkpoint loads here:
 *
 *   modules.json                      Transformer (path "") → Pooling ("1_Pooling") → [Normalize ("2_Normalize")]
 *   1_Pooling/config.json             which pooling mode, and the vector width
 *   sentence_bert_config.json         {max_seq_length, do_lower_case}
 *   config_sentence_transformers.json {prompts: {query, passage}, default_prompt_name, similarity_fn_name}
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { EncoderSettings } from './encoder-settings';
import type { PoolingMode } from './pooling';

export const MODULES_FILE = 'modules.json';
export const POOLING_DIR = '1_Pooling';
export const NORMALIZE_DIR = '2_Normalize';
export const SENTENCE_BERT_CONFIG_FILE = 'sentence_bert_config.json';
export const ST_CONFIG_FILE = 'config_sentence_transformers.json';

const TRANSFORMER = 'sentence_transformers.models.Transformer';
const POOLING = 'sentence_transformers.models.Pooling';
const NORMALIZE = 'sentence_transformers.models.Normalize';

/** sentence-transformers' pooling flag for each supported mode. */
const POOLING_FLAGS: Record<PoolingMode, string> = {
  cls: 'pooling_mode_cls_token',
  mean: 'pooling_mode_mean_tokens',
  max: 'pooling_mode_max_tokens',
};
/** Pooling flags sentence-transformers knows that this package does not implement. */
const UNSUPPORTED_POOLING_FLAGS = ['pooling_mode_mean_sqrt_len_tokens', 'pooling_mode_weightedmean_tokens', 'pooling_mode_lasttoken'];

const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';

/**
 * The sentence-transformers files (relative path → JSON text) for an encoder with these settings
 * whose vectors have `dim` entries.
 */
export function sentenceTransformersFiles(settings: EncoderSettings, dim: number): Record<string, string> {
  const modules = [
    { idx: 0, name: '0', path: '', type: TRANSFORMER },
    { idx: 1, name: '1', path: POOLING_DIR, type: POOLING },
  ];
  if (settings.normalize) modules.push({ idx: 2, name: '2', path: NORMALIZE_DIR, type: NORMALIZE });
  const pooling: Record<string, unknown> = { word_embedding_dimension: dim };
  for (const [mode, flag] of Object.entries(POOLING_FLAGS)) pooling[flag] = mode === settings.pooling;
  for (const flag of UNSUPPORTED_POOLING_FLAGS) pooling[flag] = false;
  pooling.include_prompt = true;
  return {
    [MODULES_FILE]: json(modules),
    [`${POOLING_DIR}/config.json`]: json(pooling),
    [SENTENCE_BERT_CONFIG_FILE]: json({ max_seq_length: settings.maxLength, do_lower_case: settings.lowercase }),
    [ST_CONFIG_FILE]: json({
      prompts: { query: settings.queryPrefix, passage: settings.passagePrefix },
      default_prompt_name: null,
      similarity_fn_name: settings.normalize ? 'cosine' : 'dot',
    }),
  };
}

/** Reads a JSON file; `undefined` when it does not exist; errors name the file. */
async function readJsonIfPresent(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: malformed JSON: ${(e as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads `1_Pooling/config.json` (or wherever modules.json points) into a pooling mode. */
async function readPoolingMode(file: string): Promise<PoolingMode> {
  const cfg = await readJsonIfPresent(file);
  if (cfg === undefined) throw new Error(`${file}: file not found (modules.json lists a Pooling module there)`);
  if (!isObject(cfg)) throw new Error(`${file}: expected a JSON object`);
  for (const flag of UNSUPPORTED_POOLING_FLAGS) {
    if (cfg[flag] === true) throw new Error(`${file}: "${flag}" is not supported (supported: ${Object.values(POOLING_FLAGS).join(', ')})`);
  }
  if (cfg.include_prompt === false) throw new Error(`${file}: "include_prompt": false is not supported (prompts are always pooled)`);
  const on = (Object.keys(POOLING_FLAGS) as PoolingMode[]).filter((m) => cfg[POOLING_FLAGS[m]] === true);
  if (on.length !== 1) {
    throw new Error(
      `${file}: exactly one of ${Object.values(POOLING_FLAGS).join(', ')} must be true, got ${on.length ? on.map((m) => POOLING_FLAGS[m]).join(' + ') : 'none'}`,
    );
  }
  return on[0]!;
}

/**
 * Reads the sentence-transformers files of `dir` into encoder settings. Only what the files say is
 * returned (a plain HF directory gives `{}`), so the caller fills the rest with defaults.
 * Modules other than Transformer (at the root), Pooling and Normalize are an error.
 */
export async function readSentenceTransformersSettings(dir: string): Promise<Partial<EncoderSettings>> {
  const out: Partial<EncoderSettings> = {};
  const modulesFile = path.join(dir, MODULES_FILE);
  const modules = await readJsonIfPresent(modulesFile);
  if (modules !== undefined) {
    if (!Array.isArray(modules)) throw new Error(`${modulesFile}: expected a JSON array of modules`);
    let pooling: PoolingMode | undefined;
    let normalize = false;
    modules.forEach((m, i) => {
      if (!isObject(m) || typeof m.type !== 'string' || typeof m.path !== 'string') {
        throw new Error(`${modulesFile}: entry ${i} must be an object with string "type" and "path"`);
      }
      if (m.type !== TRANSFORMER && m.type !== POOLING && m.type !== NORMALIZE) {
        throw new Error(`${modulesFile}: module type "${m.type}" is not supported (supported: ${TRANSFORMER}, ${POOLING}, ${NORMALIZE})`);
      }
      if (m.type === TRANSFORMER && m.path !== '') {
        throw new Error(`${modulesFile}: the Transformer module must be at the directory root (path ""), got "${m.path}"`);
      }
    });
    for (const m of modules as { type: string; path: string }[]) {
      if (m.type === POOLING) pooling = await readPoolingMode(path.join(dir, m.path, 'config.json'));
      else if (m.type === NORMALIZE) normalize = true;
    }
    if (!pooling) throw new Error(`${modulesFile}: no ${POOLING} module`);
    out.pooling = pooling;
    out.normalize = normalize;
  }

  const sbertFile = path.join(dir, SENTENCE_BERT_CONFIG_FILE);
  const sbert = await readJsonIfPresent(sbertFile);
  if (sbert !== undefined) {
    if (!isObject(sbert)) throw new Error(`${sbertFile}: expected a JSON object`);
    if (sbert.max_seq_length !== undefined && sbert.max_seq_length !== null) {
      if (!Number.isInteger(sbert.max_seq_length)) throw new Error(`${sbertFile}: "max_seq_length" must be an integer, got ${JSON.stringify(sbert.max_seq_length)}`);
      out.maxLength = sbert.max_seq_length as number;
    }
    if (sbert.do_lower_case !== undefined) {
      if (typeof sbert.do_lower_case !== 'boolean') throw new Error(`${sbertFile}: "do_lower_case" must be true or false`);
      out.lowercase = sbert.do_lower_case;
    }
  }

  const stFile = path.join(dir, ST_CONFIG_FILE);
  const st = await readJsonIfPresent(stFile);
  if (st !== undefined) {
    if (!isObject(st)) throw new Error(`${stFile}: expected a JSON object`);
    const prompts = st.prompts ?? {};
    if (!isObject(prompts)) throw new Error(`${stFile}: "prompts" must be an object of name → prefix`);
    for (const [name, value] of Object.entries(prompts)) {
      if (typeof value !== 'string') throw new Error(`${stFile}: prompts.${name} must be a string, got ${JSON.stringify(value)}`);
    }
    if (typeof prompts.query === 'string') out.queryPrefix = prompts.query;
    const passage = prompts.passage ?? prompts.document;
    if (typeof passage === 'string') out.passagePrefix = passage;
  }
  return out;
}
