// @dalm/retriever public API

// --- passages & ingestion ---
export type { Passage } from './passage';
export { PASSAGES_FILE, readPassages, writePassages, parsePassagesJsonl, passagesToJsonl, toPassage } from './passage';
export type { Document, RecordFields } from './ingest';
export { DEFAULT_RECORD_FIELDS, DOCUMENT_EXTENSIONS, loadDocuments, loadDirectory, loadJsonl, loadCsv } from './ingest';
export type { CsvRecord } from './csv';
export { parseCsv } from './csv';
export { parseJsonl } from './jsonl';
export { DEFAULT_INGEST_OPTIONS, decodeUtf8, looksBinary, readTextFile } from './text-decode';
export type { IngestOptions, DecodedText } from './text-decode';
export type { JsonlRow } from './jsonl';
export type { TokenCounter, ChunkConfig } from './chunk';
export { DEFAULT_CHUNK_CONFIG, validateChunkConfig, wordTokenCounter, chunkDocument, chunkDocuments } from './chunk';

// --- indexes ---
export type { Embedder } from './embedder';
export type { Hit, Retrieval, RetrievalOptions } from './retrieval';
export { searchAll } from './retrieval';
export type { DenseIndex, DenseManifest, Metric, SearchOptions } from './dense-index';
export { DEFAULT_EF_SEARCH, MANIFEST_FILE, readManifest } from './dense-index';
export type { HnswIndexConfig, BuildOptions } from './hnsw-index';
export { DEFAULT_HNSW_INDEX_CONFIG, validateHnswIndexConfig, HnswIndex } from './hnsw-index';
export type { ExactIndexConfig } from './exact-index';
export { DEFAULT_EXACT_INDEX_CONFIG, validateExactIndexConfig, ExactIndex } from './exact-index';
export { loadDenseIndex } from './load-index';
export type { Bm25Config } from './bm25';
export { DEFAULT_BM25_CONFIG, validateBm25Config, bm25Tokenize, BM25_FILE, Bm25Index } from './bm25';
export type { HybridConfig, FusionMethod } from './hybrid';
export {
  FUSION_METHODS,
  DEFAULT_HYBRID_CONFIG,
  validateHybridConfig,
  fuseRrf,
  fuseScores,
  fuseHybrid,
  normalizeScores,
  HybridRetrieval,
} from './hybrid';
export type { FusionTuneConfig, FusionGridPoint, FusionChoice } from './fusion-tuning';
export { DEFAULT_FUSION_TUNE_CONFIG, validateFusionTuneConfig, tuneFusion } from './fusion-tuning';
export { FUSION_FILE, readFusionFile, writeFusionFile } from './fusion-file';

// --- evaluation ---
export type { Relevance } from './metrics/relevance';
export { recallAt } from './metrics/recall';
export { hitAt } from './metrics/hit';
export { reciprocalRankAt } from './metrics/mrr';
export { ndcgAt } from './metrics/ndcg';
export { averagePrecisionAt } from './metrics/map';
export type { IrQuery, Qrels, IrDataset } from './qrels';
export { readQrelsTsv, loadBeirDataset, loadCovidQaDataset } from './qrels';
export type { IrMetricName, IrEvaluatorOptions, IrSkipped, IrEvaluation } from './ir-evaluator';
export { IR_METRIC_NAMES, PRIMARY_IR_METRIC, IR_EVAL_DEPTH, scoreRanking, IrEvaluator } from './ir-evaluator';

// --- encoder ---
export type { BertConfig } from './bert-config';
export { DEFAULT_BERT_CONFIG, SMALL_BERT_CONFIG, validateBertConfig, bertConfigToJson } from './bert-config';
export type { BertForwardOptions, BertOutput, BertModelOptions } from './bert';
export { BertModel, bertStateDict, isIgnoredBertTensor } from './bert';
export type { PoolingMode, Pooling } from './pooling';
export {
  POOLING_MODES,
  poolingModes,
  meanPool,
  clsPool,
  maxPool,
  meanSqrtLenPool,
  weightedMeanPool,
  lastTokenPool,
  pool,
  l2Normalize,
} from './pooling';
export type { DenseConfig } from './dense';
export { DENSE_ACTIVATIONS, DEFAULT_DENSE_ACTIVATION, DenseLayer } from './dense';
export type { EncoderSettings } from './encoder-settings';
export { DEFAULT_ENCODER_SETTINGS, validateEncoderSettings } from './encoder-settings';
export type { SentenceTransformersDir, DenseModuleSpec } from './sentence-transformers';
export {
  SUPPORTED_MODULES,
  sentenceTransformersFiles,
  readSentenceTransformersDir,
  readSentenceTransformersSettings,
  poolingFromModelName,
} from './sentence-transformers';
export type { TextKind, TokenBatch, EncodeTensorOptions, EmbedOptions, CreateEncoderOptions } from './encoder';
export { Encoder, createEncoder, loadEncoder, tokenizeForEncoder, embedInLengthOrder } from './encoder';

// --- ONNX export and ONNX Runtime inference ---
export {
  ONNX_DIR,
  ONNX_MODEL_FILE,
  ONNX_EXPORT_RECORD,
  BERT_ONNX_EXPORTER,
  bertOnnxModel,
  exportEncoderOnnx,
  ensureEncoderOnnx,
} from './bert-onnx';
export type { EnsuredOnnx } from './bert-onnx';
export { OnnxEncoder, loadOnnxEncoder, onnxEncoderFor, loadRetriever, embedderRuntime } from './onnx-encoder';
export type { OnnxEncoderSource, LoadRetrieverOptions, RetrieverEmbedder } from './onnx-encoder';

// --- index directories ---
export {
  RETRIEVER_REF_FILE,
  RETRIEVAL_MODES,
  DEFAULT_INDEX_DIR_CONFIG,
  buildIndexDir,
  recordedRetriever,
  hasDenseIndex,
  IndexDir,
} from './index-dir';
export type { RetrievalMode, IndexDirConfig, HybridSource } from './index-dir';
export { loadPassages, tokenizerCounter } from './corpus';
export { openIndexWithRetriever } from './open-index';
export { PgDenseIndex } from './pg-index';
export { isPostgresUrl, redactUrl } from './pg-adapter';

// --- old names (deprecated, one release) ---
export { DEFAULT_INDEX_CONFIG, validateIndexConfig } from './deprecated';
export type { IndexConfig } from './deprecated';
