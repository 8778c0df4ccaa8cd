/**
 * Option tables: every CLI option maps onto one field of a library config. Each table is declared
 * once and reused by every command that takes those settings.
 */
import type { TrainLoopConfig, RetrieverTrainConfig, GeneratorTrainConfig, E2ETrainConfig } from '@dalm/trainer';
import {
  FUSION_METHODS,
  type ChunkConfig,
  type HnswIndexConfig,
  type HybridConfig,
  type Bm25Config,
  type FusionMethod,
  type FusionTuneConfig,
} from '@dalm/retriever';
import type { GenerateOptions, LoraConfig } from '@dalm/generator';
import { INFERENCE_RUNTIME_CHOICES, type InferenceRuntimeChoice } from '@dalm/core';
import type { RunReportOptions } from '@dalm/core';
import type { BootstrapConfig } from '@dalm/core';
import type { OptionSpec } from './options';
import type { ServerConfig } from '@dalm/server';

/** Every model option (--base, --retriever, --generator) takes a local directory or a Hub id; help says so once, here. */
export const MODEL_NAME_FORMS = 'a directory or a Hugging Face id org/name[@rev]';

/** Help text of a model option: what it is, the accepted forms, then any default. */
export function modelHelp(what: string, note = ''): string {
  return `${what}: ${MODEL_NAME_FORMS}${note ? ` (${note})` : ''}`;
}

export const TRAIN_LOOP_OPTIONS: OptionSpec<TrainLoopConfig>[] = [
  { field: 'steps', kind: 'int', description: 'optimizer steps' },
  { field: 'batchSize', kind: 'int', description: 'examples per micro-batch' },
  { field: 'gradAccumulation', kind: 'int', description: 'micro-batches per optimizer step' },
  { field: 'learningRate', flag: 'lr', kind: 'float', description: 'peak learning rate' },
  { field: 'warmupSteps', kind: 'int', description: 'linear warmup steps' },
  {
    field: 'decay',
    kind: { choices: ['linear', 'cosine', 'constant'] },
    description: 'learning-rate decay after warmup',
  },
  { field: 'minLrRatio', kind: 'float', description: 'final learning rate as a share of the peak' },
  { field: 'weightDecay', kind: 'float', description: 'AdamW decoupled weight decay' },
  { field: 'maxGradNorm', kind: 'float', description: 'clip gradients to this global norm (0: off)' },
  { field: 'seed', kind: 'int', description: 'seed of the data order' },
  { field: 'logEvery', kind: 'int', description: 'write a metrics line every N steps' },
  { field: 'evalEvery', kind: 'int', description: 'evaluate every N steps (0: at the end)' },
  { field: 'checkpointEvery', kind: 'int', description: 'checkpoint every N steps (0: at the end)' },
  { field: 'keepCheckpoints', kind: 'int', description: 'recent checkpoints to keep' },
  { field: 'runDir', kind: 'string', description: 'run directory (checkpoints, metrics.jsonl)' },
  { field: 'resume', kind: 'bool', description: 'continue from the latest checkpoint in --run-dir' },
  {
    field: 'gradientCheckpointing',
    kind: { choices: ['auto', 'on', 'off'] },
    description:
      'recompute each transformer block in the backward to save memory (auto: on when a micro-batch would not fit)',
  },
];

export const RETRIEVER_TRAIN_OPTIONS: OptionSpec<RetrieverTrainConfig>[] = [
  { field: 'scale', kind: 'float', description: 'InfoNCE scale = 1/temperature' },
  { field: 'symmetric', kind: 'bool', description: 'add the passage-to-query InfoNCE term' },
  { field: 'hardNegatives', kind: 'int', description: 'hard negatives per pair from the pairs file' },
  { field: 'gradCacheChunk', kind: 'int', description: 'GradCache chunk size (0: plain backprop)' },
];

export const GENERATOR_TRAIN_OPTIONS: OptionSpec<GeneratorTrainConfig>[] = [
  { field: 'maxSeqLength', kind: 'int', description: 'longest training sequence in tokens (passages are cut to fit)' },
  { field: 'maxAnswerTokens', kind: 'int', description: 'longest answer kept, in tokens' },
  {
    field: 'promptLossWeight',
    kind: 'float',
    description: "weight of the prompt tokens' mean NLL added to the answer loss (0: answer-only)",
  },
];

export const LORA_OPTIONS: OptionSpec<LoraConfig>[] = [
  { field: 'r', flag: 'lora-r', kind: 'int', description: 'LoRA rank (enables LoRA)' },
  { field: 'alpha', flag: 'lora-alpha', kind: 'float', description: 'LoRA alpha (scale alpha/r)' },
  { field: 'dropout', flag: 'lora-dropout', kind: 'float', description: 'LoRA dropout' },
  { field: 'targetModules', flag: 'lora-targets', kind: 'list', description: 'modules to adapt, comma-separated' },
];

export const CHUNK_OPTIONS: OptionSpec<ChunkConfig>[] = [
  {
    field: 'maxTokens',
    flag: 'chunk-tokens',
    kind: 'int',
    description: 'passage length in tokens (0: one passage per record, ids kept)',
  },
  { field: 'overlap', flag: 'chunk-overlap', kind: 'int', description: 'tokens shared by consecutive passages' },
];

export const HNSW_OPTIONS: OptionSpec<HnswIndexConfig>[] = [
  { field: 'metric', kind: { choices: ['cosine', 'ip'] }, description: 'similarity of the dense index' },
  { field: 'M', flag: 'hnsw-m', kind: 'int', description: 'HNSW graph degree M' },
  { field: 'efConstruction', kind: 'int', description: 'HNSW efConstruction' },
];

export const BM25_OPTIONS: OptionSpec<Bm25Config>[] = [
  { field: 'k1', flag: 'bm25-k1', kind: 'float', description: 'BM25 k1' },
  { field: 'b', flag: 'bm25-b', kind: 'float', description: 'BM25 b' },
];

export const GENERATE_OPTIONS: OptionSpec<GenerateOptions>[] = [
  { field: 'maxNewTokens', kind: 'int', description: 'most tokens to generate' },
  { field: 'temperature', kind: 'float', description: 'sampling temperature (0: greedy)' },
  { field: 'topK', kind: 'int', description: 'sample from the k most likely tokens' },
  { field: 'topP', kind: 'float', description: 'nucleus sampling mass' },
  { field: 'repetitionPenalty', kind: 'float', description: 'repetition penalty (1: off)' },
  { field: 'stopStrings', flag: 'stop', kind: 'list', description: 'stop strings, comma-separated' },
  { field: 'seed', flag: 'sample-seed', kind: 'int', description: 'seed for reproducible sampling' },
];

export interface HybridCliConfig {
  fusion: FusionMethod;
  rrfK: number;
  denseWeight: number;
  bm25Weight: number;
}

/** Explicit fusion options; without any, hybrid mode uses the index's tuned fusion.json (else equal-weight RRF). */
export const HYBRID_OPTIONS: OptionSpec<HybridCliConfig>[] = [
  {
    field: 'fusion',
    kind: { choices: FUSION_METHODS },
    description:
      "hybrid fusion: rrf, or a convex combination of minmax / zscore normalised scores (default: the index's fusion.json, else rrf)",
  },
  { field: 'rrfK', kind: 'int', description: 'reciprocal-rank-fusion constant' },
  { field: 'denseWeight', kind: 'float', description: 'weight of the dense ranking in hybrid mode' },
  { field: 'bm25Weight', kind: 'float', description: 'weight of the BM25 ranking in hybrid mode' },
];

export function hybridConfig(c: Partial<HybridCliConfig>): Partial<HybridConfig> {
  return {
    ...(c.fusion !== undefined ? { method: c.fusion } : {}),
    ...(c.rrfK !== undefined ? { k: c.rrfK } : {}),
    ...(c.denseWeight !== undefined || c.bm25Weight !== undefined
      ? { weights: { dense: c.denseWeight ?? 1, bm25: c.bm25Weight ?? 1 } }
      : {}),
  };
}

export const FUSION_TUNE_OPTIONS: OptionSpec<FusionTuneConfig>[] = [
  {
    field: 'methods',
    kind: 'list',
    description: `fusion methods tried, comma-separated (${FUSION_METHODS.join(', ')})`,
  },
  {
    field: 'denseWeights',
    kind: 'floats',
    description: 'dense weights tried, comma-separated in [0, 1] (BM25 gets 1 - w; 0 and 1 always tried)',
  },
  { field: 'rrfK', kind: 'int', description: 'reciprocal-rank-fusion constant of the rrf method' },
  { field: 'candidates', kind: 'int', description: 'hits fetched from each retriever before fusion' },
];

export const E2E_TRAIN_OPTIONS: OptionSpec<E2ETrainConfig>[] = [
  {
    field: 'k',
    short: 'k',
    kind: 'int',
    description: 'passages retrieved per question (the RAG marginal runs over them)',
  },
  { field: 'retrievalTemperature', kind: 'float', description: 'tau of p(d|q) = softmax(cos/tau)' },
  {
    field: 'passageMode',
    kind: { choices: ['frozen', 'reindex'] },
    description: 'frozen passage vectors, or a trained passage tower with re-indexing',
  },
  { field: 'reindexEvery', kind: 'int', description: 'reindex mode: rebuild the index every N steps' },
  { field: 'trainRetriever', kind: 'bool', description: 'update the retriever' },
  { field: 'trainGenerator', kind: 'bool', description: 'update the generator' },
  {
    field: 'contrastiveWeight',
    kind: 'float',
    description: 'weight of an in-batch InfoNCE term on gold passages (0: off)',
  },
  { field: 'normalizeByAnswerLength', kind: 'bool', description: 'divide each question loss by its answer length' },
  { field: 'maxSeqLength', kind: 'int', description: 'longest generator row (prompt with one passage + answer)' },
  { field: 'maxAnswerTokens', kind: 'int', description: 'longest answer kept, in tokens' },
];

/** Where inference (embedding, generation) runs; training always runs on tfjs. */
export interface RuntimeCliConfig {
  runtime: InferenceRuntimeChoice;
}

export const RUNTIME_OPTIONS: OptionSpec<RuntimeCliConfig>[] = [
  {
    field: 'runtime',
    kind: { choices: INFERENCE_RUNTIME_CHOICES },
    description:
      'inference runtime: onnx (ONNX Runtime, exported into <model>/onnx/ on first use), tfjs, or auto (onnx when onnxruntime-node is installed)',
  },
];

export const REPORT_OPTIONS: OptionSpec<RunReportOptions>[] = [
  { field: 'out', kind: 'string', description: 'where to write the HTML page (default: RUN_DIR/report.html)' },
];

export const BOOTSTRAP_OPTIONS: OptionSpec<BootstrapConfig>[] = [
  {
    field: 'resamples',
    flag: 'bootstrap-resamples',
    kind: 'int',
    description: 'bootstrap resamples of the confidence intervals and paired tests',
  },
  { field: 'confidence', kind: 'float', description: 'confidence level of the intervals' },
  { field: 'seed', flag: 'bootstrap-seed', kind: 'int', description: 'seed of the resampling' },
];

/** `dalm serve`: where it listens and its limits (fields of @dalm/server's ServerConfig). */
export const SERVE_OPTIONS: OptionSpec<ServerConfig>[] = [
  { field: 'host', kind: 'string', description: 'interface to listen on (default 127.0.0.1: this machine only)' },
  { field: 'port', kind: 'int', description: 'port (0: any free port; default 8080)' },
  { field: 'runs', kind: 'string', description: 'directory whose training runs the web page lists with their reports' },
  { field: 'maxBodyBytes', kind: 'int', description: 'largest request body in bytes (larger: 413)' },
  { field: 'maxQuestionChars', kind: 'int', description: 'longest question, query or message in characters' },
  { field: 'maxTokens', kind: 'int', description: 'largest max_tokens a request may ask for' },
  { field: 'defaultMaxTokens', kind: 'int', description: 'tokens generated when a request does not say' },
  { field: 'maxConcurrent', kind: 'int', description: 'generations running at once' },
  { field: 'maxQueue', kind: 'int', description: 'generations waiting for a slot (beyond: 429)' },
  { field: 'k', short: 'k', kind: 'int', description: 'passages retrieved when a request does not say' },
];
