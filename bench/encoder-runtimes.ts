/**
 * Part `runtimes` of `pnpm bench retriever`: the same encoder (bge-small's shape, 12 layers x 384
 * hidden, 12 heads, mlp 1536, vocab 30522, random weights) embedding passages of exactly
 * `--runtime-seq` tokens (default 256) on
 *   - tfjs (the engine's backend: wasm on a plain machine),
 *   - ONNX Runtime on the exported graph (bert-onnx.ts), 1 thread and all cores,
 *   - PyTorch (HF transformers' BertModel on the same weights, bench/pytorch_encoder.py) at the same
 *     thread counts, when a Python with torch and transformers is found ($DALM_PYTHON, else
 *     /work/pyref/venv/bin/python, else none: the rows say so).
 * Every row includes mean pooling and L2 normalisation; passages/s over `--runtime-passages`
 * passages (tfjs: `--tfjs-passages`, it is slow) in batches of `--batch`, after a warm-up batch.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, defaultOnnxThreads, loadOnnxRuntime, trainWordPiece } from '@dalm/core';
import { bertOnnxModel, createEncoder, onnxEncoderFor, type BertConfig, type Encoder } from '@dalm/retriever';
import { fmt, printTable, timeMs } from './harness';

/** BAAI/bge-small-en-v1.5's shape. */
export const BGE_SMALL_SHAPE: Partial<BertConfig> = Object.freeze({
  vocab_size: 30522,
  hidden_size: 384,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 1536,
  max_position_embeddings: 512,
});

export interface RuntimeBenchOptions {
  seq: number;
  batch: number;
  passages: number;
  tfjsPassages: number;
  /** The engine's backend name, for the tfjs row. */
  backend: string;
}

interface RuntimeRow {
  runtime: string;
  threads: number | null;
  passages: number;
  passagesPerSec: number | null;
  note: string;
}

/** `n` rows of `seq` seeded random token ids, [CLS] first and [SEP] last. */
function randomRows(n: number, seq: number, vocab: number, cls: number, sep: number): number[][] {
  const rng = new Rng(11);
  return Array.from({ length: n }, () => {
    const row = Array.from({ length: seq }, () => 5 + rng.int(vocab - 5));
    row[0] = cls;
    row[seq - 1] = sep;
    return row;
  });
}

async function timeBatches(rows: number[][], batch: number, run: (b: number[][]) => Promise<unknown>): Promise<number> {
  await run(rows.slice(0, Math.min(batch, 2))); // warm-up (kernel compilation, allocator)
  const { ms } = await timeMs(async () => {
    for (let i = 0; i < rows.length; i += batch) await run(rows.slice(i, i + batch));
  });
  return (rows.length / ms) * 1000;
}

async function tfjsEmbed(encoder: Encoder, batch: number[][]): Promise<void> {
  const v = encoder.encodeTensor({ inputIds: batch });
  await v.data();
  v.dispose();
}

/** The Python to run PyTorch with, or null. */
function findPython(): string | null {
  if (process.env.DALM_PYTHON) return process.env.DALM_PYTHON;
  return existsSync('/work/pyref/venv/bin/python') ? '/work/pyref/venv/bin/python' : null;
}

function runPython(python: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${python} ${args[0]} exited with ${code}`)),
    );
  });
}

/** Runs the four rows and prints the table; returns the rows for --json. */
export async function benchRuntimes(o: RuntimeBenchOptions): Promise<Record<string, unknown>> {
  const tokenizer = trainWordPiece(['a small corpus for a tokenizer that only supplies special token ids'], {
    vocabSize: 64,
  });
  const encoder = createEncoder({
    tokenizer,
    config: BGE_SMALL_SHAPE,
    settings: { maxLength: o.seq },
    seed: 1,
    pooler: false,
  });
  const { cls, sep } = tokenizer.special;
  const rows = randomRows(o.passages, o.seq, BGE_SMALL_SHAPE.vocab_size!, cls ?? 2, sep ?? 3);
  const all = defaultOnnxThreads();
  const threadCounts = [...new Set([1, all])];
  const out: RuntimeRow[] = [];
  console.log(
    `\nencoder runtimes: bge-small shape (12 x 384, 12 heads, mlp 1536, vocab 30522), random weights, ${o.seq}-token passages, batch ${o.batch}, mean pooling + L2`,
  );

  const tfjsRows = rows.slice(0, o.tfjsPassages);
  const tfjsRate = await timeBatches(tfjsRows, o.batch, (b) => tfjsEmbed(encoder, b));
  console.error(`  tfjs-${o.backend}: ${fmt(tfjsRate)} passages/s`);
  out.push({
    runtime: `tfjs-${o.backend}`,
    threads: null,
    passages: tfjsRows.length,
    passagesPerSec: tfjsRate,
    note: 'the training engine',
  });

  if (await loadOnnxRuntime()) {
    const t0 = performance.now();
    const bytes = bertOnnxModel(encoder.config, await encoder.params.toHostAsync());
    const exportMs = performance.now() - t0;
    for (const threads of threadCounts) {
      const ortEnc = await onnxEncoderFor(encoder, bytes, threads);
      const rate = await timeBatches(rows, o.batch, (b) => ortEnc.encodeRows(b));
      ortEnc.dispose();
      console.error(`  onnxruntime ${threads} thread(s): ${fmt(rate)} passages/s`);
      out.push({
        runtime: 'onnxruntime',
        threads,
        passages: rows.length,
        passagesPerSec: rate,
        note: `export ${fmt(exportMs / 1000)} s, ${fmt(bytes.byteLength / 2 ** 20)} MiB`,
      });
    }
  } else {
    out.push({
      runtime: 'onnxruntime',
      threads: null,
      passages: 0,
      passagesPerSec: null,
      note: 'onnxruntime-node not installed',
    });
  }

  const python = findPython();
  let torchInfo: unknown = null;
  if (python) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dalm-bench-bge-'));
    try {
      await encoder.save(dir);
      const script = fileURLToPath(new URL('./pytorch_encoder.py', import.meta.url));
      const res = JSON.parse(
        await runPython(python, [
          script,
          '--model',
          dir,
          '--batch',
          String(o.batch),
          '--passages',
          String(o.passages),
          '--seq',
          String(o.seq),
          '--threads',
          threadCounts.join(','),
        ]),
      ) as { torch: string; transformers: string; rows: { threads: number; passagesPerSec: number }[] };
      torchInfo = res;
      for (const r of res.rows)
        out.push({
          runtime: 'pytorch',
          threads: r.threads,
          passages: o.passages,
          passagesPerSec: r.passagesPerSec,
          note: `torch ${res.torch}, transformers ${res.transformers}`,
        });
    } catch (e) {
      out.push({
        runtime: 'pytorch',
        threads: null,
        passages: 0,
        passagesPerSec: null,
        note: `failed: ${(e as Error).message}`,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } else {
    out.push({
      runtime: 'pytorch',
      threads: null,
      passages: 0,
      passagesPerSec: null,
      note: 'no Python: set DALM_PYTHON to a python with torch + transformers',
    });
  }
  encoder.dispose();

  const torchAt = (t: number | null) =>
    out.find((r) => r.runtime === 'pytorch' && r.threads === t)?.passagesPerSec ?? null;
  printTable(
    `### Encoder runtimes: bge-small shape, ${o.seq}-token passages, batch ${o.batch} (${os.cpus().length} cores)`,
    ['runtime', 'threads', 'passages/s', `x tfjs-${o.backend}`, 'vs PyTorch, same threads', 'notes'],
    out.map((r) => {
      const torch = r.runtime === 'pytorch' ? null : torchAt(r.threads);
      return [
        r.runtime,
        r.threads === null ? '-' : String(r.threads),
        r.passagesPerSec === null ? 'n/a' : fmt(r.passagesPerSec),
        r.passagesPerSec === null ? '-' : `${fmt(r.passagesPerSec / tfjsRate)}x`,
        r.passagesPerSec !== null && torch ? `${fmt(r.passagesPerSec / torch)}x` : '-',
        `${r.note}${r.passages ? `; ${r.passages} passages` : ''}`,
      ];
    }),
  );
  return { shape: BGE_SMALL_SHAPE, seq: o.seq, batch: o.batch, rows: out, pytorch: torchInfo };
}
