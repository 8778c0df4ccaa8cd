/**
 * `pnpm bench retriever`: speed of the retriever stack on this machine.
 *
 *   pnpm bench retriever [--size=tiny|small|bge-small] [--passages=128] [--batch=32] [--max-length=256]
 *                        [--train-steps=3] [--train-batch=8] [--negatives=1] [--grad-cache=4] [--warmup=1]
 *                        [--index-sizes=10000,100000] [--queries=200] [--ef=50,100,200,400] [--vectors=uniform|clustered]
 *                        [--runtime-seq=256] [--runtime-passages=64] [--tfjs-passages=32]
 *                        [--parts=encoder,index,runtimes] [--backend=auto|wasm|cpu|...] [--pytorch=1] [--json[=file]]
 *
 * 1. Encoder (from scratch: WordPiece tokenizer trained on the corpus, a randomly initialised BERT):
 *    passages/s embedded, and contrastive training examples/s (trainRetriever, InfoNCE over
 *    Inverse-Cloze pairs with in-batch and `--negatives` hard negatives per pair; GradCache in chunks
 *    of `--grad-cache` texts, 0 for plain backprop: on wasm, backprop through the small encoder holds
 *    ~2.7 GiB per 1k tokens at bge-small shape, the wasm heap stops at 4 GiB; gradient checkpointing
 *    is turned on when the estimate says a micro-batch would not fit, see core engine/memory.ts).
 *    `--size=bge-small` is BAAI/bge-small-en-v1.5's shape (12 layers x 384, 12 heads, mlp 1536) with
 *    random weights. With `--pytorch=1` (default) and a Python with torch, the same encoder shape,
 *    batch, hard negatives and per-step padded lengths are trained in PyTorch on 1 thread, plain
 *    backprop (scripts/reference/bench_torch.py --model bert), and its ms/step is printed beside ours.
 * 2. Index: build time and queries/s of HnswIndex vs ExactIndex, and HNSW recall@10 against exact
 *    search, over random unit vectors (dim 256) from a stub embedder: embedding 100k passages with
 *    the model would take hours here, and index speed does not depend on where the vectors came from.
 *    Uniform random vectors are the hardest case for HNSW (in 256 dimensions all distances are nearly
 *    equal); `--vectors=clustered` draws them around n/100 centres instead, closer to real embeddings.
 * 3. Runtimes (bench/encoder-runtimes.ts): bge-small-shaped encoder, passages/s on tfjs, ONNX Runtime
 *    (1 thread, all cores) and PyTorch (same thread counts) in one run.
 * Peak memory is the sampled rss high-water mark of each phase.
 */
import { formatDuration, trainWordPiece, Rng } from '@dalm/core';
import {
  createEncoder,
  ExactIndex,
  HnswIndex,
  DEFAULT_EF_SEARCH,
  DEFAULT_HNSW_INDEX_CONFIG,
  SMALL_BERT_CONFIG,
  type BertConfig,
  type Embedder,
  type Passage,
} from '@dalm/retriever';
import {
  collateContrastive,
  DEFAULT_TRAIN_LOOP_CONFIG,
  ictPairs,
  microBatchIndices,
  trainRetriever,
  type TrainingPair,
} from '@dalm/trainer';
import { runPytorchReference, type PytorchResult } from '../packages/core/bench/pytorch';
import { loadBenchCorpus, spread } from './bench-data';
import { benchRuntimes } from './encoder-runtimes';
import {
  choiceOption,
  fmt,
  fmtPeak,
  intListOption,
  intOption,
  median,
  parseBenchArgs,
  PeakMemory,
  printHeader,
  printTable,
  startEngine,
  timeMs,
  timeSync,
  writeJson,
} from './harness';

const BENCH = 'retriever';

/** Encoder sizes selectable with `--size`. */
export const RETRIEVER_BENCH_SIZES = {
  tiny: {
    config: {
      hidden_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 512,
      max_position_embeddings: 512,
    },
    vocabSize: 4000,
  },
  small: { config: { ...SMALL_BERT_CONFIG }, vocabSize: 8000 },
  'bge-small': {
    config: {
      hidden_size: 384,
      num_hidden_layers: 12,
      num_attention_heads: 12,
      intermediate_size: 1536,
      max_position_embeddings: 512,
    },
    vocabSize: 30522,
  },
} satisfies Record<string, { config: Partial<BertConfig>; vocabSize: number }>;

type Size = keyof typeof RETRIEVER_BENCH_SIZES;
const SIZES = Object.keys(RETRIEVER_BENCH_SIZES) as Size[];

/** Dimension of the random vectors of the index bench (SMALL_BERT_CONFIG's hidden size). */
const INDEX_DIM = 256;
const RECALL_K = 10;

const OPTIONS = [
  'size',
  'passages',
  'batch',
  'max-length',
  'train-steps',
  'train-batch',
  'negatives',
  'grad-cache',
  'warmup',
  'index-sizes',
  'queries',
  'ef',
  'vectors',
  'parts',
  'backend',
  'runtime-seq',
  'runtime-passages',
  'tfjs-passages',
  'pytorch',
];

/** What `--parts` can select. */
const PARTS = ['encoder', 'index', 'runtimes'] as const;

/** What the index bench stores: uniform random unit vectors, or unit vectors around cluster centres. */
export type VectorKind = 'uniform' | 'clustered';
const VECTOR_KINDS: readonly VectorKind[] = ['uniform', 'clustered'];

/** Passages per cluster centre, and the noise norm around a centre (cosine to it ≈ 1/sqrt(1+σ²) ≈ 0.89). */
const CLUSTER_SIZE = 100;
const CLUSTER_SIGMA = 0.5;

function normalizeInPlace(v: Float32Array): Float32Array {
  let sq = 0;
  for (let j = 0; j < v.length; j++) sq += v[j]! * v[j]!;
  const inv = 1 / Math.sqrt(sq);
  for (let j = 0; j < v.length; j++) v[j]! *= inv;
  return v;
}

/** A vector of `dim` independent standard normals (Box–Muller: two normals from two uniforms). */
function gaussian(rng: Rng, dim: number): Float32Array {
  const v = new Float32Array(dim);
  for (let j = 0; j < dim; j += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const t = 2 * Math.PI * rng.next();
    v[j] = r * Math.cos(t);
    if (j + 1 < dim) v[j + 1] = r * Math.sin(t);
  }
  return v;
}

/**
 * `count` unit vectors of length `dim`, seeded: uniform on the sphere (normalised normals), or, with
 * `centres`, a random centre plus normal noise of norm ≈ CLUSTER_SIGMA, normalised.
 */
export function randomUnitVectors(
  count: number,
  dim: number,
  seed: number,
  centres?: readonly Float32Array[],
): Float32Array[] {
  const rng = new Rng(seed);
  const out: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const v = gaussian(rng, dim);
    if (centres) {
      const c = centres[rng.int(centres.length)]!;
      const scale = CLUSTER_SIGMA / Math.sqrt(dim);
      for (let j = 0; j < dim; j++) v[j] = c[j]! + scale * v[j]!;
    }
    out.push(normalizeInPlace(v));
  }
  return out;
}

/** An Embedder that only declares its dimension: the index bench adds and searches vectors directly. */
function stubEmbedder(dim: number): Embedder {
  const refuse = (): never => {
    throw new Error('bench retriever: the stub embedder does not embed text (vectors are added with addEmbedded)');
  };
  return {
    dim,
    fingerprint: `random-unit-vectors-${dim}`,
    embedQueries: async () => refuse(),
    embedPassages: async () => refuse(),
  };
}

/** Share of `truth` ids found in `found`, per query, averaged. */
function recallAgainst(found: readonly string[][], truth: readonly string[][]): number {
  let sum = 0;
  truth.forEach((t, i) => {
    const hits = new Set(found[i]);
    sum += t.filter((id) => hits.has(id)).length / t.length;
  });
  return sum / truth.length;
}

/** Adds one hard negative per pair: the positive of a pair from another passage, chosen by a seeded draw. */
function withNegatives(pairs: TrainingPair[], negatives: number, seed: number): TrainingPair[] {
  if (negatives === 0) return pairs;
  const rng = new Rng(seed);
  return pairs.map((p) => {
    const negs: string[] = [];
    while (negs.length < negatives) {
      const o = pairs[rng.int(pairs.length)]!;
      if (o.positiveId !== p.positiveId) negs.push(o.positive);
    }
    return { ...p, negatives: negs };
  });
}

interface IndexRow {
  passages: number;
  index: string;
  efSearch: number | null;
  buildMs: number;
  queriesPerSec: number;
  recallAt10: number;
  peakRssMiB: number;
  growthMiB: number;
}

/** Settings of the encoder part, from the command line. */
interface EncoderBenchOptions {
  size: Size;
  nEmbed: number;
  embedBatch: number;
  maxLength: number;
  trainSteps: number;
  trainBatch: number;
  gradCache: number;
  negatives: number;
  warmup: number;
  pytorch: boolean;
}

/** Tokenizer + encoder: passages/s embedded and contrastive training examples/s. Prints its table. */
async function benchEncoder(
  o: EncoderBenchOptions,
  mem: PeakMemory,
): Promise<Record<string, unknown> & { passagesPerSec: number }> {
  const corpus = await loadBenchCorpus();
  const texts = corpus.passages.map((p) => p.text);
  const spec = RETRIEVER_BENCH_SIZES[o.size];
  const tok = await timeMs(() => trainWordPiece(texts, { vocabSize: spec.vocabSize }));
  const encoder = createEncoder({
    config: spec.config,
    tokenizer: tok.value,
    settings: { maxLength: o.maxLength },
    seed: 1,
  });
  const cfg = encoder.config;
  const nParams = encoder.params.count();
  console.log(
    `encoder (${o.size}): ${cfg.num_hidden_layers} layers x ${cfg.hidden_size} hidden, ${cfg.num_attention_heads} heads, ` +
      `mlp ${cfg.intermediate_size}, vocab ${cfg.vocab_size} (WordPiece trained in ${fmt(tok.ms / 1000)} s); ` +
      `${fmt(nParams / 1e6)}M params; maxLength ${o.maxLength}, mean pooling`,
  );
  console.log(`text: ${corpus.source}`);

  // --- embedding ---
  const sample = spread(texts, o.nEmbed);
  const tokens = encoder.tokenize(sample, 'passage').reduce((n, r) => n + r.length, 0);
  if (o.warmup > 0) await encoder.embed(sample.slice(0, o.embedBatch), { kind: 'passage', batchSize: o.embedBatch });
  mem.mark();
  const embed = await timeMs(() => encoder.embed(sample, { kind: 'passage', batchSize: o.embedBatch }));
  const embedPeak = mem.phasePeakMiB;
  const embedGrowth = mem.phaseGrowthMiB;
  const passagesPerSec = (sample.length / embed.ms) * 1000;
  console.error(`  embed: ${sample.length} passages in ${fmt(embed.ms / 1000)} s`);

  // --- contrastive training ---
  const pairs = withNegatives(ictPairs(corpus.passages), o.negatives, 5);
  const stepMs: number[] = [];
  mem.mark();
  let last = performance.now();
  const trained = await trainRetriever(
    encoder,
    pairs,
    {
      steps: o.warmup + o.trainSteps,
      batchSize: o.trainBatch,
      hardNegatives: o.negatives,
      gradCacheChunk: o.gradCache,
      warmupSteps: 0,
      quiet: true,
      logEvery: 1_000_000,
    },
    {
      onStep: () => {
        const now = performance.now();
        stepMs.push(now - last);
        last = now;
        mem.sample();
        console.error(`  train step ${stepMs.length}: ${fmt(stepMs.at(-1)!)} ms`);
      },
    },
  );
  const trainPeak = mem.phasePeakMiB;
  const trainGrowth = mem.phaseGrowthMiB;
  const timedSteps = stepMs.slice(o.warmup);
  const msPerStep = median(timedSteps);
  const examplesPerSec = (o.trainBatch / msPerStep) * 1000;

  // PyTorch on the same steps: each step's batch (same order and seed as the loop), padded as the encoder pads it.
  let torch: PytorchResult = { skipped: '--pytorch=0' };
  if (o.pytorch) {
    const lens = { q: [] as number[], p: [] as number[] };
    for (let i = 0; i < o.warmup + o.trainSteps; i++) {
      const b = collateContrastive(
        pairs,
        microBatchIndices(i, o.trainBatch, pairs.length, DEFAULT_TRAIN_LOOP_CONFIG.seed),
        o.negatives,
      );
      lens.q.push(Math.max(...encoder.tokenize(b.queries, 'query').map((r) => r.length)));
      lens.p.push(Math.max(...encoder.tokenize(b.passages, 'passage').map((r) => r.length)));
    }
    torch = runPytorchReference([
      '--model',
      'bert',
      '--threads',
      '1',
      '--steps',
      String(o.trainSteps),
      '--warmup',
      String(o.warmup),
      '--batch',
      String(o.trainBatch),
      '--negatives',
      String(o.negatives),
      '--vocab',
      String(cfg.vocab_size),
      '--hidden',
      String(cfg.hidden_size),
      '--heads',
      String(cfg.num_attention_heads),
      '--layers',
      String(cfg.num_hidden_layers),
      '--intermediate',
      String(cfg.intermediate_size),
      '--query-lens',
      lens.q.join(','),
      '--passage-lens',
      lens.p.join(','),
    ]);
    if ('medianMs' in torch)
      console.error(`  pytorch train steps: ${torch.msPerStep.map((t) => fmt(t)).join(', ')} ms`);
  }
  encoder.dispose();

  const backprop = o.gradCache ? `GradCache chunks of ${o.gradCache}` : 'plain backprop';
  printTable(
    `### Encoder (${o.size}): ${fmt(nParams / 1e6)}M params, maxLength ${o.maxLength}`,
    ['measure', 'throughput', 'time', 'details', 'peak rss MiB (+growth)'],
    [
      [
        'embed passages',
        `${fmt(passagesPerSec)} passages/s (${fmt((tokens / embed.ms) * 1000)} tokens/s)`,
        `${fmt(embed.ms / 1000)} s for ${sample.length}`,
        `batch ${o.embedBatch}, ${fmt(tokens / sample.length)} tokens/passage`,
        fmtPeak(embedPeak, embedGrowth),
      ],
      [
        'contrastive training',
        `${fmt(examplesPerSec)} examples/s`,
        `${fmt(msPerStep)} ms/step (median of ${timedSteps.length})`,
        `batch ${o.trainBatch} pairs + ${o.negatives} hard neg. each, ICT queries, ${backprop}; ` +
          `loss ${fmt(trained.losses[0]!)} -> ${fmt(trained.losses.at(-1)!)}`,
        fmtPeak(trainPeak, trainGrowth),
      ],
      'medianMs' in torch
        ? [
            `contrastive training, PyTorch ${torch.torch} (${torch.threads} thread)`,
            `${fmt((o.trainBatch / torch.medianMs) * 1000)} examples/s`,
            `${fmt(torch.medianMs)} ms/step (median of ${torch.msPerStep.length})`,
            `same shape, batch, negatives and padded lengths, plain backprop; PyTorch ms / ours = ${(torch.medianMs / msPerStep).toFixed(2)}`,
            '',
          ]
        : ['contrastive training, PyTorch', `unavailable: ${torch.skipped}`, '', '', ''],
    ],
  );
  return {
    text: corpus.source,
    size: o.size,
    config: cfg,
    params: nParams,
    maxLength: o.maxLength,
    tokenizerTrainMs: tok.ms,
    passagesPerSec,
    embed: {
      passages: sample.length,
      batch: o.embedBatch,
      tokens,
      ms: embed.ms,
      passagesPerSec,
      tokensPerSec: (tokens / embed.ms) * 1000,
      peakRssMiB: embedPeak,
      growthMiB: embedGrowth,
    },
    train: {
      batch: o.trainBatch,
      negatives: o.negatives,
      gradCacheChunk: o.gradCache,
      warmupSteps: o.warmup,
      stepMs,
      msPerStep,
      examplesPerSec,
      losses: trained.losses,
      peakRssMiB: trainPeak,
      growthMiB: trainGrowth,
      pytorch: torch,
      pytorchRatio: 'medianMs' in torch ? torch.medianMs / msPerStep : null,
    },
  };
}

/** Settings of the index part, from the command line. */
interface IndexBenchOptions {
  sizes: number[];
  nQueries: number;
  efs: number[];
  vectorKind: VectorKind;
}

/** HnswIndex vs ExactIndex over random vectors: build time, queries/s, recall@10. Prints its table. */
function benchIndex(o: IndexBenchOptions, mem: PeakMemory, embedNote: string): Record<string, unknown> {
  const embedder = stubEmbedder(INDEX_DIM);
  const rows: IndexRow[] = [];
  for (const n of o.sizes) {
    mem.mark();
    const centres =
      o.vectorKind === 'clustered'
        ? randomUnitVectors(Math.max(1, Math.round(n / CLUSTER_SIZE)), INDEX_DIM, 3)
        : undefined;
    const vectors = randomUnitVectors(n, INDEX_DIM, 1000 + n, centres);
    const queries = randomUnitVectors(o.nQueries, INDEX_DIM, 7, centres);
    const passages: Passage[] = vectors.map((_, i) => ({ id: `p${i}`, text: '', source: 'random', start: 0, end: 0 }));
    const sizeRows: IndexRow[] = [];

    const exact = new ExactIndex(embedder, { metric: 'cosine' });
    const exactBuild = timeSync(() => exact.addEmbedded(passages, vectors));
    const exactSearch = timeSync(() => queries.map((q) => exact.searchVector(q, { k: RECALL_K }).map((h) => h.id)));
    const truth = exactSearch.value;
    mem.sample(); // synchronous work blocks the sampling timer
    sizeRows.push({
      passages: n,
      index: 'exact',
      efSearch: null,
      buildMs: exactBuild.ms,
      queriesPerSec: (o.nQueries / exactSearch.ms) * 1000,
      recallAt10: 1,
      peakRssMiB: 0,
      growthMiB: 0,
    });
    console.error(`  exact ${n}: build ${fmt(exactBuild.ms)} ms, ${fmt((o.nQueries / exactSearch.ms) * 1000)} q/s`);
    exact.dispose();

    const hnsw = new HnswIndex(embedder, {}, n);
    const hnswBuild = timeSync(() => hnsw.addEmbedded(passages, vectors));
    mem.sample();
    console.error(`  hnsw ${n}: build ${fmt(hnswBuild.ms / 1000)} s`);
    for (const ef of o.efs) {
      hnsw.searchVector(queries[0]!, { k: RECALL_K, efSearch: ef }); // warm
      const search = timeSync(() =>
        queries.map((q) => hnsw.searchVector(q, { k: RECALL_K, efSearch: ef }).map((h) => h.id)),
      );
      sizeRows.push({
        passages: n,
        index: 'hnsw',
        efSearch: ef,
        buildMs: hnswBuild.ms,
        queriesPerSec: (o.nQueries / search.ms) * 1000,
        recallAt10: recallAgainst(search.value, truth),
        peakRssMiB: 0,
        growthMiB: 0,
      });
    }
    hnsw.dispose();
    const peakRssMiB = mem.phasePeakMiB;
    const growthMiB = mem.phaseGrowthMiB;
    rows.push(...sizeRows.map((r) => ({ ...r, peakRssMiB, growthMiB })));
  }

  const { M, efConstruction } = DEFAULT_HNSW_INDEX_CONFIG;
  const what =
    o.vectorKind === 'uniform' ? 'uniform random unit vectors' : `unit vectors around n/${CLUSTER_SIZE} random centres`;
  printTable(
    `### Index: ${what}, dim ${INDEX_DIM}, cosine, ${o.nQueries} queries from the same distribution, k=${RECALL_K}\n` +
      `(vectors from a stub embedder${embedNote}; HNSW M ${M}, efConstruction ${efConstruction}; recall@${RECALL_K} against ExactIndex)`,
    ['passages', 'index', 'build s', 'queries/s', `recall@${RECALL_K}`, 'peak rss MiB (+growth)'],
    rows.map((r) => [
      r.passages.toLocaleString('en-US'),
      r.efSearch === null ? 'exact' : `hnsw efSearch ${r.efSearch}`,
      fmt(r.buildMs / 1000),
      fmt(r.queriesPerSec),
      r.efSearch === null ? '1 (reference)' : r.recallAt10.toFixed(3),
      fmtPeak(r.peakRssMiB, r.growthMiB),
    ]),
  );
  return { vectors: o.vectorKind, dim: INDEX_DIM, queries: o.nQueries, k: RECALL_K, M, efConstruction, rows };
}

/** Entry point for `tsx bench/run.ts retriever [...args]`. */
export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(BENCH, argv, OPTIONS, ['json']);
  const parts = (args.parts ?? PARTS.join(',')).split(',').map((p) => p.trim());
  for (const p of parts) {
    if (!(PARTS as readonly string[]).includes(p))
      throw new Error(`bench ${BENCH}: --parts=${args.parts} names '${p}'; valid parts: ${PARTS.join(', ')}`);
  }
  const encoderOptions: EncoderBenchOptions = {
    size: choiceOption(BENCH, args, 'size', SIZES, 'small'),
    nEmbed: intOption(BENCH, args, 'passages', 128),
    embedBatch: intOption(BENCH, args, 'batch', 32),
    maxLength: intOption(BENCH, args, 'max-length', 256),
    trainSteps: intOption(BENCH, args, 'train-steps', 3),
    trainBatch: intOption(BENCH, args, 'train-batch', 8),
    gradCache: args['grad-cache'] === '0' ? 0 : intOption(BENCH, args, 'grad-cache', 4),
    negatives: args.negatives === '0' ? 0 : intOption(BENCH, args, 'negatives', 1),
    warmup: args.warmup === '0' ? 0 : intOption(BENCH, args, 'warmup', 1),
    pytorch: args.pytorch !== '0',
  };
  const indexOptions: IndexBenchOptions = {
    sizes: intListOption(BENCH, args, 'index-sizes', [10_000, 100_000]),
    nQueries: intOption(BENCH, args, 'queries', 200),
    efs: intListOption(BENCH, args, 'ef', [50, DEFAULT_EF_SEARCH, 200, 400]),
    vectorKind: choiceOption(BENCH, args, 'vectors', VECTOR_KINDS, 'uniform'),
  };

  const mem = new PeakMemory();
  const { machine } = await startEngine(BENCH, args);
  printHeader(BENCH, argv, machine);
  const encoder = parts.includes('encoder') ? await benchEncoder(encoderOptions, mem) : null;
  const embedNote = encoder
    ? `: embedding 100k passages with the ${encoderOptions.size} encoder at ${fmt(encoder.passagesPerSec)} passages/s ` +
      `would take ~${formatDuration(100_000 / encoder.passagesPerSec)}`
    : '';
  const index = parts.includes('index') ? benchIndex(indexOptions, mem, embedNote) : null;
  const runtimes = parts.includes('runtimes')
    ? await benchRuntimes({
        seq: intOption(BENCH, args, 'runtime-seq', 256),
        batch: encoderOptions.embedBatch,
        passages: intOption(BENCH, args, 'runtime-passages', 64),
        tfjsPassages: intOption(BENCH, args, 'tfjs-passages', 32),
        backend: machine.backend,
      })
    : null;
  mem.stop();
  console.log(`\npeak rss: ${fmt(mem.peakMiB)} MiB sampled, ${fmt(PeakMemory.osPeakMiB())} MiB OS high-water mark`);

  await writeJson(args, {
    bench: BENCH,
    command: `pnpm bench ${BENCH} ${argv.join(' ')}`.trimEnd(),
    date: new Date().toISOString(),
    machine,
    encoder,
    index,
    runtimes,
    peakRssMiB: mem.peakMiB,
    osPeakRssMiB: PeakMemory.osPeakMiB(),
  });
}
