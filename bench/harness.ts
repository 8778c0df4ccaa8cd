/**
 * What the root benches share: `--name=value` argument parsing, the header (exact command line,
 * machine, backend), a peak-memory sampler, timing helpers, markdown tables and the `--json` output.
 *
 * Every bench prints `$ pnpm bench <name> <args>`, a machine line, then one markdown table per
 * measurement; `--json` also prints the numbers as one JSON object, `--json=<file>` writes them to
 * that file (atomically).
 */
import os from 'node:os';
import {
  atomicWriteFile,
  engineInfo,
  initEngine,
  type BackendChoice,
  BACKEND_CHOICES,
  type EngineInfo,
} from '@dalm/core';

/** Parsed `--name=value` / `--name value` arguments; a bare `--flag` is 'true'. */
export type BenchArgs = Record<string, string>;

/**
 * Parses argv against the options a bench knows; errors name the bench, the bad argument and the
 * valid options. `flags` are options that may stand alone (`--json`).
 */
export function parseBenchArgs(
  bench: string,
  argv: readonly string[],
  known: readonly string[],
  flags: readonly string[] = [],
): BenchArgs {
  const out: BenchArgs = {};
  const all = [...known, ...flags];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    if (!m)
      throw new Error(`bench ${bench}: cannot parse argument '${arg}'; use --name=value (options: ${all.join(', ')})`);
    const [, name, inline] = m as unknown as [string, string, string | undefined];
    if (!all.includes(name))
      throw new Error(`bench ${bench}: unknown option --${name}; valid options: ${all.join(', ')}`);
    if (inline !== undefined) out[name] = inline;
    else if (flags.includes(name)) out[name] = 'true';
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) out[name] = argv[++i]!;
    else throw new Error(`bench ${bench}: option --${name} needs a value (--${name}=...)`);
  }
  return out;
}

/** A positive integer option, or `fallback` when absent. */
export function intOption(bench: string, args: BenchArgs, name: string, fallback: number): number {
  if (args[name] === undefined) return fallback;
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`bench ${bench}: --${name}=${args[name]} must be a positive integer`);
  return n;
}

/** A comma-separated list of positive integers, or `fallback` when absent. */
export function intListOption(bench: string, args: BenchArgs, name: string, fallback: number[]): number[] {
  if (args[name] === undefined) return fallback;
  const list = args[name]!.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`bench ${bench}: --${name}=${args[name]} must be a comma-separated list of positive integers`);
  }
  return list;
}

/** One of `choices`, or `fallback` when absent. */
export function choiceOption<T extends string>(
  bench: string,
  args: BenchArgs,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const v = args[name] ?? fallback;
  if (!(choices as readonly string[]).includes(v))
    throw new Error(`bench ${bench}: --${name}=${v} is not valid; choose one of ${choices.join(', ')}`);
  return v as T;
}

/** The machine a bench ran on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  /** 1-minute load average when the bench started (the machine may be shared). */
  loadAverage: number;
  totalMemGiB: number;
  node: string;
  backend: string;
  tfjsVersion: string;
  wasmSimd: boolean | null;
  wasmThreads: number | null;
}

/** Initialises the engine (`--backend`, else $DALM_BACKEND, else auto) and describes the machine. */
export async function startEngine(
  bench: string,
  args: BenchArgs,
): Promise<{ engine: EngineInfo; machine: MachineInfo }> {
  // Without --backend the engine decides ($DALM_BACKEND, else auto).
  const backend =
    args.backend === undefined
      ? undefined
      : choiceOption<BackendChoice>(bench, args, 'backend', BACKEND_CHOICES, 'auto');
  await initEngine({ backend });
  const engine = engineInfo();
  const cpus = os.cpus();
  const machine: MachineInfo = {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    loadAverage: os.loadavg()[0]!,
    totalMemGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    backend: engine.backend,
    tfjsVersion: engine.tfjsVersion,
    wasmSimd: engine.wasm?.simd ?? null,
    wasmThreads: engine.wasm?.threads ?? null,
  };
  return { engine, machine };
}

/** Prints the exact command line and the machine line. */
export function printHeader(bench: string, argv: readonly string[], machine: MachineInfo): void {
  console.log(`$ pnpm bench ${bench} ${argv.join(' ')}`.trimEnd());
  const wasm = machine.backend === 'wasm' ? ` (SIMD ${machine.wasmSimd}, threads ${machine.wasmThreads})` : '';
  console.log(
    `machine: ${machine.cores} cores (${machine.cpuModel}), load ${machine.loadAverage.toFixed(2)}, ` +
      `${machine.totalMemGiB.toFixed(1)} GiB RAM; node ${machine.node}; backend ${machine.backend}${wasm}, tfjs ${machine.tfjsVersion}; ` +
      `${new Date().toISOString()}`,
  );
}

/**
 * Peak resident memory: samples `process.memoryUsage().rss` on a timer and whenever `sample()` is
 * called (synchronous tfjs work blocks the timer, so benches also sample between steps). `mark()`
 * starts a new phase; `phasePeak` is the high-water mark since then.
 */
export class PeakMemory {
  private timer: NodeJS.Timeout | null;
  private overall = 0;
  private phase = 0;
  private phaseStart = 0;

  constructor(intervalMs = 20) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    const rss = process.memoryUsage().rss;
    if (rss > this.overall) this.overall = rss;
    if (rss > this.phase) this.phase = rss;
  }

  /** Starts a phase: its peak starts at the current rss. */
  mark(): void {
    this.phase = 0;
    this.sample();
    this.phaseStart = this.phase;
  }

  /** Sampled high-water mark of the current phase, in MiB. */
  get phasePeakMiB(): number {
    this.sample();
    return this.phase / 2 ** 20;
  }

  /**
   * How far the phase peak rose above the rss at `mark()`, in MiB: what the phase itself needed
   * (rss rarely shrinks, so the peak alone also counts what earlier phases left allocated).
   */
  get phaseGrowthMiB(): number {
    this.sample();
    return (this.phase - this.phaseStart) / 2 ** 20;
  }

  /** Sampled high-water mark of the whole run, in MiB. */
  get peakMiB(): number {
    this.sample();
    return this.overall / 2 ** 20;
  }

  /** The kernel's high-water mark of the process (`resourceUsage().maxRSS`), in MiB. */
  static osPeakMiB(): number {
    return process.resourceUsage().maxRSS / 1024;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** Milliseconds taken by `fn` (awaited). */
export async function timeMs<T>(fn: () => T | Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Milliseconds taken by a synchronous `fn`. */
export function timeSync<T>(fn: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** A number with `digits` significant-ish decimals: 1234.5 -> "1,235", 12.345 -> "12.3", 0.1234 -> "0.123". */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  const abs = Math.abs(x);
  const decimals = abs >= 100 ? 0 : abs >= 10 ? Math.max(0, digits - 2) : abs >= 1 ? Math.max(0, digits - 1) : digits;
  return x.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** "1,271 (+816)": a phase's peak rss and its growth during the phase, in MiB. */
export function fmtPeak(peakMiB: number, growthMiB: number): string {
  return `${fmt(peakMiB)} (+${Math.round(Math.max(0, growthMiB)).toLocaleString('en-US')})`;
}

/** Prints a markdown table (with an optional `### title` line before it). */
export function printTable(
  title: string | null,
  header: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  if (title) console.log(`\n${title}`);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

/** Handles `--json`: prints the results as JSON (bare flag) or writes them to the given file. */
export async function writeJson(args: BenchArgs, results: unknown): Promise<void> {
  const target = args.json;
  if (target === undefined) return;
  const text = JSON.stringify(results, null, 2) + '\n';
  if (target === 'true') {
    console.log(`\n${text.trimEnd()}`);
  } else {
    await atomicWriteFile(target, text);
    console.log(`\nwrote ${target}`);
  }
}
