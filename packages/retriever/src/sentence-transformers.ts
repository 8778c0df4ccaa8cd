/**
 * The sentence-transformers layout of a bi-encoder directory, read as sentence-transformers 6.x
 * reads it (and as the 2.x–5.x releases wrote it), so a checkpoint embeds here exactly as
 * `SentenceTransformer(dir).encode(...)` does, and a saved encoder loads there:
 *
 *   modules.json                      Transformer (path "") → Pooling → [Dense …] → [Normalize]
 *   sentence_bert_config.json         the Transformer module: max_seq_length, do_lower_case (legacy keys)
 *                                     or the 6.x keys (transformer_task, modality_config, …)
 *   <Pooling>/config.json             pooling mode(s): legacy `pooling_mode_*_token(s)` flags or the
 *                                     6.x `pooling_mode`, the width, `include_prompt`
 *   <Dense>/config.json + model.safetensors   in/out features, bias, activation; `linear.weight`/`linear.bias`
 *   <Normalize>/                      L2 normalisation (must be the last module)
 *   config_sentence_transformers.json prompts (written as query / document), default_prompt_name, similarity_fn_name
 *
 * Anything this framework cannot compute as sentence-transformers would (another module type, an
 * activation it lacks, a Transformer option that changes the inputs) is an error naming it and
 * the file: a checkpoint is never silently approximated.
 *
 * Without modules.json (a plain Hugging Face directory) the pooling comes from, in order:
 * `1_Pooling/config.json` if the directory has one; CLS for the BGE family (a `bge` name in
 * config.json's `_name_or_path` or in the directory's last three path segments), which BAAI
 * trained and documents with CLS pooling; otherwise mean, which is what sentence-transformers
 * itself builds for a plain directory (Transformer + mean Pooling).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DEFAULT_DENSE_ACTIVATION, DENSE_ACTIVATIONS, type DenseConfig } from './dense';
import type { EncoderSettings } from './encoder-settings';
import { POOLING_MODES, poolingModes, type Pooling, type PoolingMode } from './pooling';

export const MODULES_FILE = 'modules.json';
export const POOLING_DIR = '1_Pooling';
export const NORMALIZE_DIR = '2_Normalize';
export const SENTENCE_BERT_CONFIG_FILE = 'sentence_bert_config.json';
export const ST_CONFIG_FILE = 'config_sentence_transformers.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** The module class names this framework computes (any `sentence_transformers.…` path ending in one). */
export const SUPPORTED_MODULES = Object.freeze(['Transformer', 'Pooling', 'Dense', 'Normalize'] as const);
type ModuleKind = (typeof SUPPORTED_MODULES)[number];

/** What `sentenceTransformersFiles` writes as module types (2.x–5.x names; 6.x maps them to its own). */
const WRITTEN_TYPE: Record<ModuleKind, string> = {
  Transformer: 'sentence_transformers.models.Transformer',
  Pooling: 'sentence_transformers.models.Pooling',
  Dense: 'sentence_transformers.models.Dense',
  Normalize: 'sentence_transformers.models.Normalize',
};
const TYPE_PATTERN = /^sentence_transformers\.(?:[A-Za-z_][A-Za-z0-9_]*\.)*(Transformer|Pooling|Dense|Normalize)$/;

/** sentence-transformers' legacy pooling flag for each mode (its concatenation order). */
const POOLING_FLAGS: Record<PoolingMode, string> = {
  cls: 'pooling_mode_cls_token',
  max: 'pooling_mode_max_tokens',
  mean: 'pooling_mode_mean_tokens',
  mean_sqrt_len_tokens: 'pooling_mode_mean_sqrt_len_tokens',
  weightedmean: 'pooling_mode_weightedmean_tokens',
  lasttoken: 'pooling_mode_lasttoken',
};

/** A Dense module as read from the directory. */
export interface DenseModuleSpec {
  /** Its directory inside the encoder directory (e.g. `2_Dense`). */
  path: string;
  config: DenseConfig;
  /** Its `model.safetensors`. */
  weightsFile: string;
}

/** What a directory says about the encoder around its transformer. */
export interface SentenceTransformersDir {
  /** Directory holding the Transformer module (config.json, weights, tokenizer): the root for every 2.x+ save. */
  transformerDir: string;
  /** Only what the files say; the caller fills the rest with defaults. */
  settings: Partial<EncoderSettings>;
  /** Dense modules after the pooling, in order. */
  dense: DenseModuleSpec[];
  /** Which rule chose the pooling (file name, or the no-modules.json rule), for messages and logs. */
  poolingRule: string;
  /** The width the Pooling config states (`embedding_dimension` / `word_embedding_dimension`), if any. */
  poolingWidth?: number;
  /**
   * The tokenizer's `model_max_length` when no `max_seq_length` is given (sentence-transformers then
   * truncates at min(this, max_position_embeddings)); undefined when neither file says.
   */
  tokenizerMaxLength?: number;
}

const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';

/** Default-prompt name to write for these settings: null, an existing prompt's name, or 'default'. */
function promptsToWrite(settings: EncoderSettings): { prompts: Record<string, string>; defaultName: string | null } {
  // "document", not "passage": sentence-transformers 6.x starts every model with a placeholder
  // `document: ""` prompt that encode_document would pick before a saved "passage".
  const prompts: Record<string, string> = { query: settings.queryPrefix, document: settings.passagePrefix };
  if (settings.defaultPrefix === '') return { prompts, defaultName: null };
  if (settings.defaultPrefix === settings.queryPrefix) return { prompts, defaultName: 'query' };
  if (settings.defaultPrefix === settings.passagePrefix) return { prompts, defaultName: 'document' };
  return { prompts: { ...prompts, default: settings.defaultPrefix }, defaultName: 'default' };
}

/**
 * The sentence-transformers files (relative path → JSON text) of an encoder with these settings,
 * whose transformer has `hiddenSize`-wide token states, and these Dense modules (their weights are
 * written by the encoder as `<path>/model.safetensors`).
 */
export function sentenceTransformersFiles(
  settings: EncoderSettings,
  hiddenSize: number,
  dense: readonly { path: string; config: DenseConfig }[] = [],
): Record<string, string> {
  const modules: { idx: number; name: string; path: string; type: string }[] = [];
  const add = (kind: ModuleKind, p: string) =>
    modules.push({ idx: modules.length, name: String(modules.length), path: p, type: WRITTEN_TYPE[kind] });
  add('Transformer', '');
  add('Pooling', POOLING_DIR);
  const files: Record<string, string> = {};
  for (const d of dense) {
    add('Dense', d.path);
    files[`${d.path}/config.json`] = json(d.config);
  }
  if (settings.normalize) add('Normalize', `${modules.length}_Normalize`);

  const modes = poolingModes(settings.pooling);
  const legacyOrder = POOLING_MODES.filter((m) => modes.includes(m));
  let pooling: Record<string, unknown>;
  if (legacyOrder.every((m, i) => modes[i] === m)) {
    // The flags every sentence-transformers release reads (2.x–6.x).
    pooling = { word_embedding_dimension: hiddenSize };
    for (const mode of POOLING_MODES) pooling[POOLING_FLAGS[mode]] = modes.includes(mode);
  } else {
    // Another concatenation order: only 6.x's `pooling_mode` list can say it.
    pooling = { embedding_dimension: hiddenSize, pooling_mode: modes };
  }
  pooling.include_prompt = settings.includePrompt;
  const { prompts, defaultName } = promptsToWrite(settings);
  return {
    [MODULES_FILE]: json(modules),
    [`${POOLING_DIR}/config.json`]: json(pooling),
    ...files,
    [SENTENCE_BERT_CONFIG_FILE]: json({ max_seq_length: settings.maxLength, do_lower_case: settings.lowercase }),
    [ST_CONFIG_FILE]: json({
      prompts,
      default_prompt_name: defaultName,
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
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: malformed JSON: ${(e as Error).message}`);
  }
}

async function readJsonObjectIfPresent(file: string): Promise<Record<string, unknown> | undefined> {
  const v = await readJsonIfPresent(file);
  if (v !== undefined && !isObject(v)) throw new Error(`${file}: expected a JSON object`);
  return v;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || (isObject(v) && Object.keys(v).length === 0);
}

function refuseUnknownKeys(file: string, cfg: Record<string, unknown>, known: readonly string[], what: string): void {
  const unknown = Object.keys(cfg).filter((k) => !known.includes(k));
  if (unknown.length)
    throw new Error(`${file}: ${what} key "${unknown[0]}" is not supported (known: ${known.join(', ')})`);
}

/** A Pooling module's config (legacy flags or 6.x `pooling_mode`) → modes and include_prompt. */
async function readPoolingConfig(
  file: string,
  hiddenSize?: number,
): Promise<{ pooling: Pooling; includePrompt: boolean; width?: number }> {
  const cfg = await readJsonObjectIfPresent(file);
  if (cfg === undefined) throw new Error(`${file}: file not found (modules.json lists a Pooling module there)`);
  const known = [
    'word_embedding_dimension',
    'embedding_dimension',
    'pooling_mode',
    'include_prompt',
    ...Object.values(POOLING_FLAGS),
  ];
  refuseUnknownKeys(file, cfg, known, 'Pooling');
  let modes: PoolingMode[];
  if (cfg.pooling_mode !== undefined && cfg.pooling_mode !== null) {
    const raw = typeof cfg.pooling_mode === 'string' ? [cfg.pooling_mode] : cfg.pooling_mode;
    if (!Array.isArray(raw) || raw.length === 0)
      throw new Error(
        `${file}: "pooling_mode" must be a mode name or a non-empty list of them (valid: ${POOLING_MODES.join(', ')})`,
      );
    for (const m of raw) {
      if (!POOLING_MODES.includes(m as PoolingMode)) {
        throw new Error(
          `${file}: pooling mode ${JSON.stringify(m)} is not supported (valid: ${POOLING_MODES.join(', ')})`,
        );
      }
    }
    modes = raw as PoolingMode[];
  } else {
    for (const flag of Object.values(POOLING_FLAGS)) {
      if (cfg[flag] !== undefined && typeof cfg[flag] !== 'boolean')
        throw new Error(`${file}: "${flag}" must be true or false`);
    }
    // sentence-transformers 6.x: the flags that are true, in its order; none true means mean.
    modes = POOLING_MODES.filter((m) => cfg[POOLING_FLAGS[m]] === true);
    if (modes.length === 0) modes = ['mean'];
  }
  const width = cfg.embedding_dimension ?? cfg.word_embedding_dimension;
  if (width !== undefined && (!Number.isInteger(width) || (width as number) < 1))
    throw new Error(`${file}: the pooling width must be a positive integer, got ${JSON.stringify(width)}`);
  if (hiddenSize !== undefined && width !== undefined && width !== hiddenSize) {
    throw new Error(
      `${file}: the pooling width (${JSON.stringify(width)}) differs from the transformer's hidden_size (${hiddenSize})`,
    );
  }
  if (cfg.include_prompt !== undefined && typeof cfg.include_prompt !== 'boolean')
    throw new Error(`${file}: "include_prompt" must be true or false`);
  if (new Set(modes).size !== modes.length)
    throw new Error(`${file}: a pooling mode is listed twice in ${JSON.stringify(modes)}`);
  return {
    pooling: modes.length === 1 ? modes[0]! : modes,
    includePrompt: cfg.include_prompt !== false,
    ...(width !== undefined ? { width: width as number } : {}),
  };
}

/** A Dense module's config.json, checked; its weights must be safetensors. */
async function readDenseModule(
  dir: string,
  modulePath: string,
  inFeatures: number | undefined,
): Promise<DenseModuleSpec> {
  const moduleDir = path.join(dir, modulePath);
  const file = path.join(moduleDir, 'config.json');
  const cfg = await readJsonObjectIfPresent(file);
  if (cfg === undefined) throw new Error(`${file}: file not found (modules.json lists a Dense module there)`);
  refuseUnknownKeys(
    file,
    cfg,
    [
      'in_features',
      'out_features',
      'bias',
      'activation_function',
      'module_input_name',
      'module_output_name',
      'use_residual',
    ],
    'Dense',
  );
  for (const key of ['in_features', 'out_features'] as const) {
    if (!Number.isInteger(cfg[key]) || (cfg[key] as number) < 1)
      throw new Error(`${file}: "${key}" must be a positive integer, got ${JSON.stringify(cfg[key])}`);
  }
  if (cfg.bias !== undefined && typeof cfg.bias !== 'boolean') throw new Error(`${file}: "bias" must be true or false`);
  const activation = cfg.activation_function ?? DEFAULT_DENSE_ACTIVATION;
  if (typeof activation !== 'string' || !(activation in DENSE_ACTIVATIONS)) {
    throw new Error(
      `${file}: activation_function ${JSON.stringify(activation)} is not supported (supported: ${Object.keys(DENSE_ACTIVATIONS).join(', ')})`,
    );
  }
  for (const key of ['module_input_name', 'module_output_name'] as const) {
    if (cfg[key] !== undefined && cfg[key] !== null && cfg[key] !== 'sentence_embedding') {
      throw new Error(`${file}: "${key}" ${JSON.stringify(cfg[key])} is not supported (only "sentence_embedding")`);
    }
  }
  if (cfg.use_residual === true) throw new Error(`${file}: "use_residual": true is not supported`);
  if (inFeatures !== undefined && cfg.in_features !== inFeatures) {
    throw new Error(
      `${file}: "in_features" is ${cfg.in_features as number} but the module before it gives ${inFeatures}-wide vectors`,
    );
  }
  const weightsFile = path.join(moduleDir, 'model.safetensors');
  if (!(await exists(weightsFile))) {
    const bin = path.join(moduleDir, 'pytorch_model.bin');
    if (await exists(bin)) {
      throw new Error(
        `${bin}: PyTorch pickle weights are not read (only model.safetensors); convert them, e.g. with sentence-transformers: model.save(dir, safe_serialization=True)`,
      );
    }
    throw new Error(`${weightsFile}: file not found (the Dense module's weights)`);
  }
  return {
    path: modulePath,
    config: {
      in_features: cfg.in_features as number,
      out_features: cfg.out_features as number,
      bias: cfg.bias !== false,
      activation_function: activation,
    },
    weightsFile,
  };
}

/** A Normalize module: nothing to configure, but a config that points it elsewhere is refused. */
async function checkNormalizeModule(dir: string, modulePath: string): Promise<void> {
  const file = path.join(dir, modulePath, 'config.json');
  const cfg = modulePath === '' ? undefined : await readJsonObjectIfPresent(file);
  if (!cfg) return;
  refuseUnknownKeys(file, cfg, ['module_input_name', 'module_output_name'], 'Normalize');
  for (const key of ['module_input_name', 'module_output_name'] as const) {
    if (cfg[key] !== undefined && cfg[key] !== null && cfg[key] !== 'sentence_embedding') {
      throw new Error(`${file}: "${key}" ${JSON.stringify(cfg[key])} is not supported (only "sentence_embedding")`);
    }
  }
}

/** Model/processor kwargs of sentence_bert_config.json this framework can honour. */
const HARMLESS_MODEL_KWARGS = ['torch_dtype', 'dtype', 'attn_implementation', 'trust_remote_code'];

/** The Transformer module's sentence_bert_config.json → maxLength, lowercase (both optional). */
async function readTransformerConfig(transformerDir: string): Promise<{ maxLength?: number; lowercase?: boolean }> {
  const file = path.join(transformerDir, SENTENCE_BERT_CONFIG_FILE);
  const cfg = await readJsonObjectIfPresent(file);
  if (cfg === undefined) return {};
  refuseUnknownKeys(
    file,
    cfg,
    [
      'max_seq_length',
      'do_lower_case',
      'transformer_task',
      'modality_config',
      'module_output_name',
      'processing_kwargs',
      'unpad_inputs',
      'model_args',
      'model_kwargs',
      'tokenizer_args',
      'processor_kwargs',
      'config_args',
      'config_kwargs',
      'backend',
    ],
    'Transformer',
  );
  const out: { maxLength?: number; lowercase?: boolean } = {};
  if (cfg.max_seq_length !== undefined && cfg.max_seq_length !== null) {
    if (!Number.isInteger(cfg.max_seq_length))
      throw new Error(`${file}: "max_seq_length" must be an integer, got ${JSON.stringify(cfg.max_seq_length)}`);
    out.maxLength = cfg.max_seq_length as number;
  }
  if (cfg.do_lower_case !== undefined) {
    if (typeof cfg.do_lower_case !== 'boolean') throw new Error(`${file}: "do_lower_case" must be true or false`);
    out.lowercase = cfg.do_lower_case;
  }
  if (cfg.transformer_task !== undefined && cfg.transformer_task !== 'feature-extraction') {
    throw new Error(
      `${file}: "transformer_task" ${JSON.stringify(cfg.transformer_task)} is not supported (only "feature-extraction")`,
    );
  }
  if (
    cfg.module_output_name !== undefined &&
    cfg.module_output_name !== null &&
    cfg.module_output_name !== 'token_embeddings'
  ) {
    throw new Error(
      `${file}: "module_output_name" ${JSON.stringify(cfg.module_output_name)} is not supported (only "token_embeddings")`,
    );
  }
  if (cfg.modality_config !== undefined) {
    const m = cfg.modality_config;
    const text = isObject(m) ? m.text : undefined;
    const ok =
      isObject(m) &&
      Object.keys(m).length === 1 &&
      isObject(text) &&
      text.method === 'forward' &&
      text.method_output_name === 'last_hidden_state';
    if (!ok)
      throw new Error(
        `${file}: "modality_config" ${JSON.stringify(m)} is not supported (only text through forward → last_hidden_state)`,
      );
  }
  if (!isEmpty(cfg.processing_kwargs))
    throw new Error(`${file}: "processing_kwargs" ${JSON.stringify(cfg.processing_kwargs)} is not supported`);
  if (cfg.backend !== undefined && cfg.backend !== 'torch')
    throw new Error(`${file}: "backend" ${JSON.stringify(cfg.backend)} is not supported (only "torch" weights)`);
  for (const key of ['model_args', 'model_kwargs', 'config_args', 'config_kwargs'] as const) {
    const v = cfg[key];
    if (isEmpty(v)) continue;
    if (!isObject(v)) throw new Error(`${file}: "${key}" must be an object`);
    const bad = Object.keys(v).find((k) => !HARMLESS_MODEL_KWARGS.includes(k));
    if (bad) throw new Error(`${file}: ${key}.${bad} is not supported (only ${HARMLESS_MODEL_KWARGS.join(', ')})`);
  }
  for (const key of ['tokenizer_args', 'processor_kwargs'] as const) {
    const v = cfg[key];
    if (isEmpty(v)) continue;
    if (!isObject(v)) throw new Error(`${file}: "${key}" must be an object`);
    const bad = Object.keys(v).find((k) => k !== 'model_max_length' && k !== 'trust_remote_code');
    if (bad) throw new Error(`${file}: ${key}.${bad} is not supported (only model_max_length)`);
    if (v.model_max_length !== undefined && out.maxLength === undefined) {
      if (!Number.isInteger(v.model_max_length)) throw new Error(`${file}: ${key}.model_max_length must be an integer`);
      out.maxLength = v.model_max_length as number;
    }
  }
  return out;
}

/** tokenizer_config.json's model_max_length (HF's "no limit" sentinel, ≥ 1e12, counts as absent). */
async function readTokenizerMaxLength(transformerDir: string): Promise<number | undefined> {
  const file = path.join(transformerDir, TOKENIZER_CONFIG_FILE);
  const cfg = await readJsonObjectIfPresent(file);
  const v = cfg?.model_max_length;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 1e12 ? v : undefined;
}

/** config_sentence_transformers.json → prefixes (as encode_query / encode_document / encode pick them). */
async function readStConfig(dir: string): Promise<Partial<EncoderSettings>> {
  const file = path.join(dir, ST_CONFIG_FILE);
  const st = await readJsonObjectIfPresent(file);
  if (st === undefined) return {};
  refuseUnknownKeys(
    file,
    st,
    ['__version__', 'prompts', 'default_prompt_name', 'similarity_fn_name', 'model_type'],
    'sentence-transformers',
  );
  if (st.model_type !== undefined && st.model_type !== 'SentenceTransformer') {
    throw new Error(
      `${file}: "model_type" ${JSON.stringify(st.model_type)} is not supported (only "SentenceTransformer" bi-encoders)`,
    );
  }
  const sim = st.similarity_fn_name;
  if (sim !== undefined && sim !== null && sim !== 'cosine' && sim !== 'dot') {
    throw new Error(
      `${file}: "similarity_fn_name" ${JSON.stringify(sim)} is not supported (the indexes rank by cosine or dot)`,
    );
  }
  const prompts = st.prompts ?? {};
  if (!isObject(prompts)) throw new Error(`${file}: "prompts" must be an object of name → prefix`);
  for (const [name, value] of Object.entries(prompts)) {
    if (typeof value !== 'string')
      throw new Error(`${file}: prompts.${name} must be a string, got ${JSON.stringify(value)}`);
  }
  const p = prompts as Record<string, string>;
  const defaultName = st.default_prompt_name;
  let defaultPrompt: string | undefined;
  if (defaultName !== undefined && defaultName !== null) {
    if (typeof defaultName !== 'string' || !(defaultName in p)) {
      throw new Error(
        `${file}: "default_prompt_name" ${JSON.stringify(defaultName)} is not one of the prompts (${Object.keys(p).join(', ') || 'none'})`,
      );
    }
    defaultPrompt = p[defaultName];
  }
  const out: Partial<EncoderSettings> = {};
  // encode_query: the "query" prompt if there is one, else encode()'s default prompt.
  const query = 'query' in p ? p.query : defaultPrompt;
  // encode_document: the first of "document", "passage", "corpus", else the default prompt.
  const docName = ['document', 'passage', 'corpus'].find((n) => n in p);
  const passage = docName !== undefined ? p[docName] : defaultPrompt;
  if (query !== undefined) out.queryPrefix = query;
  if (passage !== undefined) out.passagePrefix = passage;
  if (defaultPrompt !== undefined) out.defaultPrefix = defaultPrompt;
  return out;
}

/** CLS for names of the BGE family (BAAI/bge-*), else undefined. */
export function poolingFromModelName(name: string): PoolingMode | undefined {
  return /(^|[^a-z0-9])bge([^a-z0-9]|$)/i.test(name) ? 'cls' : undefined;
}

/** The no-modules.json rule (see the file comment). */
async function defaultPooling(
  dir: string,
  hiddenSize?: number,
): Promise<{ pooling: Pooling; includePrompt?: boolean; width?: number; rule: string }> {
  const poolingFile = path.join(dir, POOLING_DIR, 'config.json');
  if (await exists(poolingFile)) {
    const { pooling, includePrompt, width } = await readPoolingConfig(poolingFile, hiddenSize);
    return { pooling, includePrompt, width, rule: `${poolingFile} (no modules.json)` };
  }
  const config = await readJsonObjectIfPresent(path.join(dir, 'config.json'));
  const names = [
    typeof config?._name_or_path === 'string' ? config._name_or_path : '',
    path.resolve(dir).split(path.sep).slice(-3).join('/'),
  ];
  for (const name of names) {
    const mode = name ? poolingFromModelName(name) : undefined;
    if (mode) return { pooling: mode, rule: `no modules.json: "${name}" names the BGE family, which pools with CLS` };
  }
  return {
    pooling: 'mean',
    rule: 'no modules.json: mean pooling, as sentence-transformers builds for a plain directory',
  };
}

/**
 * Reads the sentence-transformers files of `dir` (see the file comment). `hiddenSize`, when
 * known, checks the Pooling width and the first Dense module's `in_features`.
 */
export async function readSentenceTransformersDir(dir: string, hiddenSize?: number): Promise<SentenceTransformersDir> {
  const modulesFile = path.join(dir, MODULES_FILE);
  const modules = await readJsonIfPresent(modulesFile);
  const settings: Partial<EncoderSettings> = {};
  const dense: DenseModuleSpec[] = [];
  let transformerDir = dir;
  let poolingRule: string;
  let poolingWidth: number | undefined;
  if (modules !== undefined) {
    if (!Array.isArray(modules)) throw new Error(`${modulesFile}: expected a JSON array of modules`);
    const kinds: { kind: ModuleKind; path: string }[] = modules.map((m, i) => {
      if (!isObject(m) || typeof m.type !== 'string' || typeof m.path !== 'string') {
        throw new Error(`${modulesFile}: entry ${i} must be an object with string "type" and "path"`);
      }
      const match = TYPE_PATTERN.exec(m.type);
      if (!match)
        throw new Error(
          `${modulesFile}: module type "${m.type}" is not supported (supported: sentence_transformers ${SUPPORTED_MODULES.join(', ')})`,
        );
      if (!isEmpty(m.kwargs) && !(Array.isArray(m.kwargs) && m.kwargs.length === 0)) {
        throw new Error(
          `${modulesFile}: entry ${i} ("${m.type}") has forward kwargs ${JSON.stringify(m.kwargs)}, which are not supported`,
        );
      }
      if (path.isAbsolute(m.path) || m.path.split(/[\\/]/).includes('..'))
        throw new Error(`${modulesFile}: entry ${i} has path "${m.path}" outside the directory`);
      return { kind: match[1] as ModuleKind, path: m.path };
    });
    const order = kinds.map((k) => k.kind).join(' → ');
    const expected = 'Transformer → Pooling → [Dense …] → [Normalize]';
    if (kinds[0]?.kind !== 'Transformer' || kinds[1]?.kind !== 'Pooling') {
      throw new Error(`${modulesFile}: modules ${order || '(none)'} are not supported (expected ${expected})`);
    }
    const rest = kinds.slice(2);
    const firstNormalize = rest.findIndex((k) => k.kind === 'Normalize');
    if (
      rest.some(
        (k, i) => (k.kind !== 'Dense' && k.kind !== 'Normalize') || (k.kind === 'Normalize' && i !== rest.length - 1),
      )
    ) {
      throw new Error(
        `${modulesFile}: modules ${order} are not supported (expected ${expected}; Normalize must be last)`,
      );
    }
    transformerDir = path.join(dir, kinds[0].path);
    const poolingFile = path.join(dir, kinds[1].path, 'config.json');
    const { pooling, includePrompt, width: stated } = await readPoolingConfig(poolingFile, hiddenSize);
    settings.pooling = pooling;
    settings.includePrompt = includePrompt;
    poolingRule = poolingFile;
    poolingWidth = stated;
    const tokenWidth = hiddenSize ?? stated;
    let width = tokenWidth === undefined ? undefined : tokenWidth * poolingModes(pooling).length;
    for (const k of rest) {
      if (k.kind !== 'Dense') continue;
      const spec = await readDenseModule(dir, k.path, width);
      dense.push(spec);
      width = spec.config.out_features;
    }
    settings.normalize = firstNormalize >= 0;
    if (firstNormalize >= 0) await checkNormalizeModule(dir, rest[firstNormalize]!.path);
  } else {
    const chosen = await defaultPooling(dir, hiddenSize);
    settings.pooling = chosen.pooling;
    if (chosen.includePrompt !== undefined) settings.includePrompt = chosen.includePrompt;
    poolingRule = chosen.rule;
    poolingWidth = chosen.width;
  }
  const transformer = await readTransformerConfig(transformerDir);
  if (transformer.maxLength !== undefined) settings.maxLength = transformer.maxLength;
  if (transformer.lowercase !== undefined) settings.lowercase = transformer.lowercase;
  Object.assign(settings, await readStConfig(dir));
  const tokenizerMaxLength =
    transformer.maxLength === undefined ? await readTokenizerMaxLength(transformerDir) : undefined;
  return {
    transformerDir,
    settings,
    dense,
    poolingRule,
    ...(poolingWidth !== undefined ? { poolingWidth } : {}),
    ...(tokenizerMaxLength !== undefined ? { tokenizerMaxLength } : {}),
  };
}

/**
 * Reads the sentence-transformers files of `dir` into encoder settings: only what the files (or
 * the no-modules.json pooling rule) say, so the caller fills the rest with defaults.
 */
export async function readSentenceTransformersSettings(dir: string): Promise<Partial<EncoderSettings>> {
  return (await readSentenceTransformersDir(dir)).settings;
}
