/**
 * Engine bench: ms per training step (forward + backward + Adam) of a small causal transformer LM on
 * each available backend, and on wasm with and without the engine's fixes.
 *
 *   pnpm bench engine [--steps=5] [--warmup=1] [--backends=cpu,wasm-stock,wasm-grad,wasm,tensorflow,tensorflow-gpu]
 *                     [--batch=8] [--seq=64] [--pytorch=1] [--profile=0]
 *
 * `--profile=1` times one more step per backend by kernel (tf.profile) and prints the largest on stderr.
 *
 * With `--pytorch=1` (default) and a Python with torch (see pytorch.ts), the same model, batch and
 * optimizer in PyTorch on 1 thread (scripts/reference/bench_torch.py --model lm) runs in the same
 * bench, and each row shows PyTorch's ms/step divided by its own (1 = as fast as PyTorch).
 *
 * The model is written here from tf ops so the bench depends on nothing but the engine: token + position
 * embeddings, 2 pre-norm blocks of 4-head causal attention and a GELU MLP, a tied output head, mean
 * cross-entropy; ~0.94M parameters at the default sizes. (This file lives in packages/core so that it
 * resolves @tensorflow/tfjs; bench/engine.ts is its entry.)
 */
import * as tf from '@tensorflow/tfjs';

import { engineInfo, initEngine, type BackendName, type EngineInfo } from '../src/index';
import { WASM_FIXES, type WasmFixName } from '../src/engine/wasm-fixes';
import { runPytorchReference } from './pytorch';

/** Sizes of the bench model. */
export interface BenchLmConfig {
  /** Vocabulary size (tied input/output embedding). */
  vocabSize: number;
  /** Hidden size. */
  dModel: number;
  /** Attention heads; must divide dModel. */
  heads: number;
  /** Transformer blocks. */
  layers: number;
  /** MLP inner size. */
  dMlp: number;
  /** Sequence length (and number of learned positions). */
  seqLen: number;
}

export const DEFAULT_BENCH_LM_CONFIG: BenchLmConfig = {
  vocabSize: 4096,
  dModel: 128,
  heads: 4,
  layers: 2,
  dMlp: 512,
  seqLen: 64,
};

/** Trainable parameters, by name. */
type Params = Record<string, tf.Variable>;

function initParams(cfg: BenchLmConfig, seed: number): Params {
  const { vocabSize: V, dModel: D, dMlp: M, seqLen: S } = cfg;
  let s = seed;
  const normal = (shape: number[], std: number) => tf.variable(tf.randomNormal(shape, 0, std, 'float32', s++));
  const p: Params = {
    tokEmb: normal([V, D], 0.02),
    posEmb: normal([S, D], 0.02),
    lnFGain: tf.variable(tf.ones([D])),
  };
  for (let l = 0; l < cfg.layers; l++) {
    p[`l${l}.ln1`] = tf.variable(tf.ones([D]));
    p[`l${l}.wqkv`] = normal([D, 3 * D], 0.02);
    p[`l${l}.wo`] = normal([D, D], 0.02 / Math.sqrt(2 * cfg.layers));
    p[`l${l}.ln2`] = tf.variable(tf.ones([D]));
    p[`l${l}.w1`] = normal([D, M], 0.02);
    p[`l${l}.w2`] = normal([M, D], 0.02 / Math.sqrt(2 * cfg.layers));
  }
  return p;
}

/** RMS-style layer norm without bias: x / sqrt(mean(x^2) + eps) * gain. */
function norm(x: tf.Tensor, gain: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))), gain);
}

function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** Mean next-token cross-entropy of `ids` ([B, S] int32) predicting `targets` ([B, S] int32). */
function lmLoss(p: Params, cfg: BenchLmConfig, ids: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  const [B, S] = ids.shape;
  const { dModel: D, heads: H, vocabSize: V } = cfg;
  const Dh = D / H;
  const causal = tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([S, S]), -1, 0)), -1e9); // [S, S], -1e9 above diagonal
  let x = tf.add(tf.gather(p.tokEmb, ids), tf.slice(p.posEmb, [0, 0], [S, D])); // [B, S, D]
  const split = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, S, H, Dh]), [0, 2, 1, 3]); // [B, H, S, Dh]
  for (let l = 0; l < cfg.layers; l++) {
    const h = tf.reshape(norm(x, p[`l${l}.ln1`]), [B * S, D]); // [B*S, D]
    const qkv = tf.reshape(tf.matMul(h, p[`l${l}.wqkv`]), [B, S, 3 * D]); // [B, S, 3D]
    const [q, k, v] = tf.split(qkv, 3, -1).map(split); // each [B, H, S, Dh]
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(Dh)), causal); // [B, H, S, S]
    const ctx = tf.matMul(tf.softmax(scores), v); // [B, H, S, Dh]
    const merged = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B * S, D]); // [B*S, D]
    x = tf.add(x, tf.reshape(tf.matMul(merged, p[`l${l}.wo`]), [B, S, D])); // [B, S, D]
    const h2 = tf.reshape(norm(x, p[`l${l}.ln2`]), [B * S, D]); // [B*S, D]
    const mlp = tf.matMul(gelu(tf.matMul(h2, p[`l${l}.w1`])), p[`l${l}.w2`]); // [B*S, D]
    x = tf.add(x, tf.reshape(mlp, [B, S, D]));
  }
  const logits = tf.matMul(tf.reshape(norm(x, p.lnFGain), [B * S, D]), p.tokEmb, false, true); // [B*S, V]
  const logp = tf.logSoftmax(logits); // [B*S, V]
  const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.reshape(targets, [B * S]), V)), -1); // [B*S]
  return tf.neg(tf.mean(picked)) as tf.Scalar;
}

/** Parameter count of `initParams(cfg)`, without allocating it. */
function countParams(cfg: BenchLmConfig): number {
  const { vocabSize: V, dModel: D, dMlp: M, seqLen: S } = cfg;
  return V * D + S * D + D + cfg.layers * (D + 3 * D * D + D * D + D + 2 * D * M);
}

/** One bench configuration: a backend and (for wasm) the fixes to apply. */
interface Variant {
  key: string;
  backend: BackendName;
  wasmFixes?: readonly WasmFixName[];
  label: string;
}

const VARIANTS: Variant[] = [
  { key: 'cpu', backend: 'cpu', label: 'cpu (pure JS)' },
  {
    key: 'wasm-stock',
    backend: 'wasm',
    wasmFixes: ['unsorted-segment-sum'],
    label: 'wasm, stock matmul (only the missing kernel added)',
  },
  {
    key: 'wasm-grad',
    backend: 'wasm',
    wasmFixes: ['unsorted-segment-sum', 'matmul-transpose-grad'],
    label: 'wasm, + explicit-transpose matmul gradient',
  },
  { key: 'wasm', backend: 'wasm', wasmFixes: WASM_FIXES, label: 'wasm, all fixes (engine default)' },
  { key: 'tensorflow', backend: 'tensorflow', label: 'tfjs-node (native CPU)' },
  { key: 'tensorflow-gpu', backend: 'tensorflow-gpu', label: 'tfjs-node-gpu (CUDA)' },
];

interface Row {
  variant: Variant;
  msPerStep?: number[];
  loss?: [number, number];
  skipped?: string;
}

/** Kernel time of one more step by kernel and input shapes (tf.profile), the 15 largest, on stderr. */
async function printProfile(key: string, step: () => number): Promise<void> {
  const prof = await tf.profile(() => void step());
  const by = new Map<string, { ms: number; n: number }>();
  for (const k of prof.kernels) {
    const name = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const e = by.get(name) ?? { ms: 0, n: 0 };
    e.ms += Number(k.kernelTimeMs);
    e.n += 1;
    by.set(name, e);
  }
  const total = [...by.values()].reduce((s, e) => s + e.ms, 0);
  console.error(
    `  profile ${key}: ${prof.kernels.length} kernels, ${total.toFixed(0)} ms in kernels; largest (ms, calls, kernel [input shapes]):`,
  );
  for (const [name, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15))
    console.error(`    ${e.ms.toFixed(1).padStart(7)} ${String(e.n).padStart(4)}  ${name}`);
}

async function benchVariant(
  variant: Variant,
  cfg: BenchLmConfig,
  batch: number,
  steps: number,
  warmup: number,
  profile = false,
): Promise<Row> {
  try {
    await initEngine({ backend: variant.backend, wasmFixes: variant.wasmFixes });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { variant, skipped: /cannot be used: (.*?)\. Available/.exec(message)?.[1] ?? message };
  }
  const params = initParams(cfg, 42);
  if (Object.values(params).reduce((n, v) => n + v.size, 0) !== countParams(cfg))
    throw new Error('bench engine: countParams is out of date');
  const optimizer = tf.train.adam(1e-3);
  const data = tf.tidy(() => tf.randomUniform([batch, cfg.seqLen + 1], 0, cfg.vocabSize, 'int32', 7)); // [B, S+1]
  const ids = tf.slice(data, [0, 0], [batch, cfg.seqLen]) as tf.Tensor2D; // [B, S]
  const targets = tf.slice(data, [0, 1], [batch, cfg.seqLen]) as tf.Tensor2D; // [B, S]
  const step = (): number => {
    const loss = optimizer.minimize(() => lmLoss(params, cfg, ids, targets), true, Object.values(params));
    const value = loss!.dataSync()[0]; // dataSync waits for the step to finish
    loss!.dispose();
    return value;
  };
  const times: number[] = [];
  let first = NaN;
  let last = NaN;
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const value = step();
    const ms = performance.now() - t0;
    if (i === 0) first = value;
    last = value;
    if (i >= warmup) times.push(ms);
  }
  if (profile) await printProfile(variant.key, step);
  optimizer.dispose();
  tf.dispose([data, ids, targets, ...Object.values(params)]);
  return { variant, msPerStep: times, loss: [first, last] };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m)
      throw new Error(
        `bench engine: cannot parse argument '${arg}'; use --name=value (steps, warmup, backends, batch, seq, pytorch, profile)`,
      );
    out[m[1]] = m[2];
  }
  return out;
}

function positiveInt(args: Record<string, string>, name: string, fallback: number): number {
  if (args[name] === undefined) return fallback;
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`bench engine: --${name}=${args[name]} must be a positive integer`);
  return n;
}

/** Entry point for `tsx bench/run.ts engine [...args]`. */
export async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const steps = positiveInt(args, 'steps', 5);
  const warmup = positiveInt(args, 'warmup', 1);
  const batch = positiveInt(args, 'batch', 8);
  const cfg: BenchLmConfig = {
    ...DEFAULT_BENCH_LM_CONFIG,
    seqLen: positiveInt(args, 'seq', DEFAULT_BENCH_LM_CONFIG.seqLen),
  };
  const keys = args.backends?.split(',').map((k) => k.trim()) ?? VARIANTS.map((v) => v.key);
  for (const k of keys) {
    if (!VARIANTS.some((v) => v.key === k)) {
      throw new Error(
        `bench engine: unknown backend '${k}' in --backends; valid: ${VARIANTS.map((v) => v.key).join(', ')}`,
      );
    }
  }

  console.log(`$ pnpm bench engine ${argv.join(' ')}`.trimEnd());
  const nParams = countParams(cfg);
  console.log(
    `model: vocab ${cfg.vocabSize}, d ${cfg.dModel}, ${cfg.heads} heads, ${cfg.layers} layers, mlp ${cfg.dMlp}, ` +
      `${(nParams / 1e6).toFixed(2)}M params; batch ${batch} x seq ${cfg.seqLen}; ${warmup} warmup + ${steps} timed steps`,
  );

  const rows: Row[] = [];
  let info: EngineInfo | null = null;
  for (const variant of VARIANTS.filter((v) => keys.includes(v.key))) {
    const row = await benchVariant(variant, cfg, batch, steps, warmup, args.profile === '1');
    rows.push(row);
    if (row.msPerStep && variant.backend === 'wasm') info = engineInfo();
    const result = row.msPerStep ? `${row.msPerStep.map((t) => t.toFixed(0)).join(', ')} ms` : `skipped`;
    console.error(`  ${variant.key}: ${result}`);
  }

  const torch =
    args.pytorch === '0'
      ? { skipped: '--pytorch=0' }
      : runPytorchReference([
          '--model',
          'lm',
          '--threads',
          '1',
          '--steps',
          String(steps),
          '--warmup',
          String(warmup),
          '--batch',
          String(batch),
          '--seq',
          String(cfg.seqLen),
          '--vocab',
          String(cfg.vocabSize),
          '--hidden',
          String(cfg.dModel),
          '--heads',
          String(cfg.heads),
          '--layers',
          String(cfg.layers),
          '--intermediate',
          String(cfg.dMlp),
        ]);
  if ('medianMs' in torch) console.error(`  pytorch: ${torch.msPerStep.map((t) => t.toFixed(0)).join(', ')} ms`);
  const ratio = (ms: number) => ('medianMs' in torch ? (torch.medianMs / ms).toFixed(2) : 'n/a');
  const header = ['backend', 'ms/step (median)', 'min', 'max', 'loss first -> last', 'PyTorch ms / ours'];
  const table = rows.map((r) =>
    r.msPerStep
      ? [
          r.variant.label,
          median(r.msPerStep).toFixed(1),
          Math.min(...r.msPerStep).toFixed(1),
          Math.max(...r.msPerStep).toFixed(1),
          `${r.loss![0].toFixed(4)} -> ${r.loss![1].toFixed(4)}`,
          ratio(median(r.msPerStep)),
        ]
      : [r.variant.label, `unavailable: ${r.skipped}`, '', '', '', ''],
  );
  table.push(
    'medianMs' in torch
      ? [
          `PyTorch ${torch.torch}, ${torch.threads} thread (same model, Adam)`,
          torch.medianMs.toFixed(1),
          Math.min(...torch.msPerStep).toFixed(1),
          Math.max(...torch.msPerStep).toFixed(1),
          '',
          '1',
        ]
      : ['PyTorch (scripts/reference/bench_torch.py)', `unavailable: ${torch.skipped}`, '', '', '', ''],
  );
  const widths = header.map((h, i) =>
    Math.max(h.length, ...table.map((row) => (row[1].startsWith('unavailable') && i === 1 ? 0 : row[i].length))),
  );
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table) console.log(line(row));
  if (info?.wasm) {
    console.log(
      `wasm: SIMD ${info.wasm.simd}, threads ${info.wasm.threads} (multithreading ${info.wasm.multithreading}); tfjs ${info.tfjsVersion}`,
    );
  }
}
