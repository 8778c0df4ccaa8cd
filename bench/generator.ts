/**
 * `pnpm bench generator`: speed of the generator stack on this machine.
 *
 *   pnpm bench generator [--size=tiny|small] [--prompt=32] [--new-tokens=64] [--ttft-prompt=256]
 *                        [--repeats=3] [--train-steps=3] [--train-batch=8] [--seq=128] [--warmup=1]
 *                        [--backend=auto|wasm|cpu|...] [--json[=file]]
 *
 * A from-scratch decoder (byte-level BPE tokenizer trained on the corpus, a randomly initialised
 * Llama-style model) measures: generation tokens/s with and without the KV cache (greedy, eos
 * ignored so every run makes exactly `--new-tokens` tokens), time to first token for a
 * `--ttft-prompt`-token prompt (prefill + one step, with the cache), and training tokens/s (one
 * forward + backward + AdamW step of the generic loop over full next-token windows of `--seq` tokens).
 * With onnxruntime-node installed, the same model exported to ONNX (llama-onnx.ts) is timed on ONNX
 * Runtime too (all cores): cached generation and time to first token, tokens checked equal to tfjs's.
 * Peak memory is the sampled rss high-water mark of each phase.
 */
import { trainByteLevelBPE, type Tokenizer } from '@dalm/core';
import { defaultOnnxThreads, loadOnnxRuntime } from '@dalm/core';
import {
  causalLMOnnxBytes,
  createCausalLM,
  generate,
  onnxCausalLMFor,
  SMALL_LLAMA_CONFIG,
  type LlamaConfig,
  type GenerationModel,
} from '@dalm/generator';
import { collateLm, lmLoss, train, type EncodedExample } from '@dalm/trainer';
import { loadBenchCorpus } from './bench-data';
import {
  choiceOption,
  fmt,
  fmtPeak,
  intOption,
  median,
  parseBenchArgs,
  PeakMemory,
  printHeader,
  printTable,
  startEngine,
  timeMs,
  writeJson,
} from './harness';

const BENCH = 'generator';

/** Decoder sizes selectable with `--size`. */
export const GENERATOR_BENCH_SIZES = {
  tiny: {
    config: {
      model_type: 'llama',
      hidden_size: 128,
      intermediate_size: 344,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 512,
      tie_word_embeddings: true,
    },
    vocabSize: 2000,
  },
  small: { config: { ...SMALL_LLAMA_CONFIG }, vocabSize: 8000 },
} satisfies Record<string, { config: Partial<LlamaConfig>; vocabSize: number }>;

type Size = keyof typeof GENERATOR_BENCH_SIZES;
const SIZES = Object.keys(GENERATOR_BENCH_SIZES) as Size[];

const OPTIONS = [
  'size',
  'prompt',
  'new-tokens',
  'ttft-prompt',
  'repeats',
  'train-steps',
  'train-batch',
  'seq',
  'warmup',
  'backend',
];

/** The corpus as one token stream (bos before every passage), cut once it holds `needed` tokens. */
function tokenStream(tok: Tokenizer, texts: readonly string[], needed: number): number[] {
  const out: number[] = [];
  for (const t of texts) {
    if (tok.special.bos !== undefined) out.push(tok.special.bos);
    out.push(...tok.encode(t, { addSpecialTokens: false }));
    if (out.length >= needed) break;
  }
  if (out.length < needed)
    throw new Error(`bench generator: the corpus has only ${out.length} tokens, ${needed} needed`);
  return out.slice(0, needed);
}

interface GenRun {
  useCache: boolean;
  /** Wall time of each repeat. */
  ms: number[];
  /** Median over repeats. */
  medianMs: number;
  tokensPerSec: number;
  tokens: number[];
}

/** Times greedy generation of exactly `newTokens` tokens (eos ignored), `repeats` times, alternating the two modes. */
async function timeGeneration(
  model: GenerationModel,
  prompt: number[],
  newTokens: number,
  repeats: number,
  mem: PeakMemory,
  modes: boolean[] = [true, false],
): Promise<GenRun[]> {
  const runs: GenRun[] = modes.map((useCache) => ({ useCache, ms: [], medianMs: NaN, tokensPerSec: NaN, tokens: [] }));
  for (let r = 0; r < repeats; r++) {
    for (const run of runs) {
      const { ms, value } = await timeMs(() =>
        generate(model, prompt, { maxNewTokens: newTokens, eosTokenId: null, useCache: run.useCache }),
      );
      run.ms.push(ms);
      run.tokens = value.newTokens[0]!;
      mem.sample();
      console.error(`  generate ${run.useCache ? 'with' : 'without'} cache: ${fmt(ms)} ms`);
    }
  }
  for (const run of runs) {
    run.medianMs = median(run.ms);
    run.tokensPerSec = (newTokens / run.medianMs) * 1000;
  }
  return runs;
}

/** Entry point for `tsx bench/run.ts generator [...args]`. */
export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(BENCH, argv, OPTIONS, ['json']);
  const size = choiceOption(BENCH, args, 'size', SIZES, 'small');
  const promptLen = intOption(BENCH, args, 'prompt', 32);
  const newTokens = intOption(BENCH, args, 'new-tokens', 64);
  const ttftPrompt = intOption(BENCH, args, 'ttft-prompt', 256);
  const repeats = intOption(BENCH, args, 'repeats', 3);
  const trainSteps = intOption(BENCH, args, 'train-steps', 3);
  const trainBatch = intOption(BENCH, args, 'train-batch', 8);
  const seq = intOption(BENCH, args, 'seq', 128);
  const warmup = args.warmup === '0' ? 0 : intOption(BENCH, args, 'warmup', 1);

  const mem = new PeakMemory();
  const { machine } = await startEngine(BENCH, args);
  printHeader(BENCH, argv, machine);
  const corpus = await loadBenchCorpus();
  const texts = corpus.passages.map((p) => p.text);

  // --- tokenizer and model ---
  const spec = GENERATOR_BENCH_SIZES[size];
  const tokTimed = await timeMs(() => trainByteLevelBPE(texts, { vocabSize: spec.vocabSize }));
  const tok = tokTimed.value;
  const model = createCausalLM(
    {
      ...spec.config,
      vocab_size: tok.vocabSize,
      bos_token_id: tok.special.bos ?? null,
      eos_token_id: tok.special.eos ?? null,
      pad_token_id: tok.special.pad ?? null,
    },
    1,
  );
  const cfg = model.configJson() as unknown as LlamaConfig;
  const nParams = model.params.count();
  console.log(
    `decoder (${size}): ${cfg.model_type}, ${cfg.num_hidden_layers} layers x ${cfg.hidden_size} hidden, ${cfg.num_attention_heads} heads ` +
      `(${cfg.num_key_value_heads} kv), mlp ${cfg.intermediate_size}, vocab ${cfg.vocab_size} (byte-level BPE trained in ` +
      `${fmt(tokTimed.ms / 1000)} s), tied embeddings ${cfg.tie_word_embeddings}; ${fmt(nParams / 1e6)}M params`,
  );
  console.log(`text: ${corpus.source}`);
  const needed = Math.max(promptLen, ttftPrompt, trainBatch * (seq + 1) * (warmup + trainSteps));
  const stream = tokenStream(tok, texts, needed);

  // --- generation with and without the KV cache ---
  const prompt = stream.slice(0, promptLen);
  if (warmup > 0) {
    await generate(model, prompt, { maxNewTokens: 4, eosTokenId: null, useCache: true });
    await generate(model, prompt, { maxNewTokens: 4, eosTokenId: null, useCache: false });
  }
  mem.mark();
  const [cached, uncached] = (await timeGeneration(model, prompt, newTokens, repeats, mem)) as [GenRun, GenRun];
  const genPeak = mem.phasePeakMiB;
  const genGrowth = mem.phaseGrowthMiB;
  const sameTokens =
    cached.tokens.length === uncached.tokens.length && cached.tokens.every((t, i) => t === uncached.tokens[i]);

  // --- time to first token ---
  const longPrompt = stream.slice(0, ttftPrompt);
  if (warmup > 0) await generate(model, longPrompt, { maxNewTokens: 1, eosTokenId: null });
  mem.mark();
  const ttfts: number[] = [];
  for (let r = 0; r < repeats; r++) {
    ttfts.push(
      (await timeMs(() => generate(model, longPrompt, { maxNewTokens: 1, eosTokenId: null, useCache: true }))).ms,
    );
    mem.sample();
  }
  const ttftPeak = mem.phasePeakMiB;
  const ttftGrowth = mem.phaseGrowthMiB;
  console.error(`  ttft: ${ttfts.map((t) => fmt(t)).join(', ')} ms`);

  // --- the same model on ONNX Runtime ---
  let ortRows: string[][] = [];
  let ortJson: Record<string, unknown> | null = null;
  if (await loadOnnxRuntime()) {
    const t0 = performance.now();
    const { bytes } = await causalLMOnnxBytes(model);
    const exportMs = performance.now() - t0;
    const threads = defaultOnnxThreads();
    const ort = await onnxCausalLMFor(model, bytes, threads);
    if (warmup > 0) await generate(ort, prompt, { maxNewTokens: 4, eosTokenId: null });
    const [ortCached] = (await timeGeneration(ort, prompt, newTokens, repeats, mem, [true])) as [GenRun];
    const ortSame =
      ortCached.tokens.every((t, i) => t === cached.tokens[i]) && ortCached.tokens.length === cached.tokens.length;
    const ortTtfts: number[] = [];
    for (let r = 0; r < repeats; r++)
      ortTtfts.push((await timeMs(() => generate(ort, longPrompt, { maxNewTokens: 1, eosTokenId: null }))).ms);
    ort.dispose();
    ortRows = [
      [
        `generate, KV cache, onnxruntime (${threads} threads)`,
        `${fmt(ortCached.tokensPerSec)} tokens/s`,
        `${fmt(ortCached.medianMs / newTokens)} ms/token (median of ${repeats})`,
        `${fmt(ortCached.tokensPerSec / cached.tokensPerSec)}x tfjs; export ${fmt(exportMs / 1000)} s; tokens equal to tfjs: ${ortSame ? 'yes' : 'NO'}`,
        '-',
      ],
      [
        `time to first token, onnxruntime (${threads} threads)`,
        `${fmt((ttftPrompt / median(ortTtfts)) * 1000)} prompt tokens/s`,
        `${fmt(median(ortTtfts))} ms (median of ${repeats})`,
        `${fmt(median(ttfts) / median(ortTtfts))}x faster than tfjs`,
        '-',
      ],
    ];
    ortJson = {
      threads,
      exportMs,
      cached: {
        ms: ortCached.ms,
        medianMs: ortCached.medianMs,
        tokensPerSec: ortCached.tokensPerSec,
        sameTokens: ortSame,
      },
      ttft: { ms: ortTtfts, medianMs: median(ortTtfts) },
    };
    console.error(`  onnxruntime: ${fmt(ortCached.tokensPerSec)} tokens/s, ttft ${fmt(median(ortTtfts))} ms`);
  }

  // --- training ---
  const pad = model.specialTokens.pad ?? model.specialTokens.eos[0] ?? 0;
  const windows: EncodedExample[] = [];
  for (let s = 0; s + seq + 1 <= stream.length; s += seq + 1) {
    const w = stream.slice(s, s + seq + 1);
    windows.push({ input: w.slice(0, -1), target: w.slice(1), mask: new Array<number>(seq).fill(1) });
  }
  const stepMs: number[] = [];
  mem.mark();
  let last = performance.now();
  const trained = await train(
    {
      params: { generator: model.params },
      dataset: {
        size: windows.length,
        collate: (idx) =>
          collateLm(
            idx.map((i) => windows[i]!),
            pad,
          ),
      },
      loss: (b) => lmLoss(model, b, true),
    },
    {
      steps: warmup + trainSteps,
      batchSize: trainBatch,
      warmupSteps: 0,
      learningRate: 1e-3,
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
  const timedSteps = stepMs.slice(warmup);
  const msPerStep = median(timedSteps);
  const trainTokensPerSec = ((trainBatch * seq) / msPerStep) * 1000;
  model.dispose();

  printTable(
    `### Decoder (${size}): ${fmt(nParams / 1e6)}M params, greedy decoding, batch 1`,
    ['measure', 'throughput', 'time', 'details', 'peak rss MiB (+growth)'],
    [
      [
        'generate, KV cache',
        `${fmt(cached.tokensPerSec)} tokens/s`,
        `${fmt(cached.medianMs / newTokens)} ms/token (median of ${repeats})`,
        `${promptLen}-token prompt + ${newTokens} new tokens`,
        fmtPeak(genPeak, genGrowth),
      ],
      [
        'generate, no cache',
        `${fmt(uncached.tokensPerSec)} tokens/s`,
        `${fmt(uncached.medianMs / newTokens)} ms/token (median of ${repeats})`,
        `same; recomputes the whole sequence each step; tokens equal to cached run: ${sameTokens ? 'yes' : 'NO'}`,
        fmtPeak(genPeak, genGrowth),
      ],
      [
        'time to first token',
        `${fmt((ttftPrompt / median(ttfts)) * 1000)} prompt tokens/s`,
        `${fmt(median(ttfts))} ms (median of ${repeats})`,
        `${ttftPrompt}-token prompt: prefill + 1 token`,
        fmtPeak(ttftPeak, ttftGrowth),
      ],
      ...ortRows,
      [
        'training',
        `${fmt(trainTokensPerSec)} tokens/s`,
        `${fmt(msPerStep)} ms/step (median of ${timedSteps.length})`,
        `batch ${trainBatch} x ${seq} tokens, forward + backward + AdamW; loss ${fmt(trained.losses[0]!)} -> ${fmt(trained.losses.at(-1)!)}`,
        fmtPeak(trainPeak, trainGrowth),
      ],
    ],
  );
  mem.stop();
  console.log(`\npeak rss: ${fmt(mem.peakMiB)} MiB sampled, ${fmt(PeakMemory.osPeakMiB())} MiB OS high-water mark`);

  await writeJson(args, {
    bench: BENCH,
    command: `pnpm bench ${BENCH} ${argv.join(' ')}`.trimEnd(),
    date: new Date().toISOString(),
    machine,
    text: corpus.source,
    decoder: { size, config: cfg, params: nParams, tokenizerTrainMs: tokTimed.ms },
    generate: {
      promptTokens: promptLen,
      newTokens,
      cached: { ms: cached.ms, medianMs: cached.medianMs, tokensPerSec: cached.tokensPerSec },
      uncached: { ms: uncached.ms, medianMs: uncached.medianMs, tokensPerSec: uncached.tokensPerSec },
      sameTokens,
      peakRssMiB: genPeak,
      growthMiB: genGrowth,
    },
    onnxruntime: ortJson,
    ttft: { promptTokens: ttftPrompt, ms: ttfts, medianMs: median(ttfts), peakRssMiB: ttftPeak, growthMiB: ttftGrowth },
    train: {
      batch: trainBatch,
      seq,
      warmupSteps: warmup,
      stepMs,
      msPerStep,
      tokensPerSec: trainTokensPerSec,
      losses: trained.losses,
      peakRssMiB: trainPeak,
      growthMiB: trainGrowth,
    },
    peakRssMiB: mem.peakMiB,
    osPeakRssMiB: PeakMemory.osPeakMiB(),
  });
}
