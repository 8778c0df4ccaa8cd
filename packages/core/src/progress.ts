/**
 * A progress display for long jobs: a bar with step, loss, steps/s and ETA on a TTY (redrawn in
 * place), and a plain line every `intervalMs` otherwise (CI logs). Writes to stderr so stdout stays
 * clean for `--json` output. `DALM_PROGRESS=0` silences it.
 */
export interface ProgressOptions {
  /** Stream to write to (default process.stderr). */
  stream?: NodeJS.WriteStream;
  /** Minimum milliseconds between non-TTY lines. */
  intervalMs?: number;
  /** Silence all output. */
  silent?: boolean;
  /** What a step counts: iterations (default) or bytes (shown as kB/MB/GB and MB/s). */
  unit?: 'steps' | 'bytes';
}

export class Progress {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly silent: boolean;
  private readonly intervalMs: number;
  private startedAt = Date.now();
  private lastDraw = 0;
  private startStep = 0;
  private readonly bytes: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    opts: ProgressOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.silent = opts.silent ?? process.env.DALM_PROGRESS === '0';
    this.intervalMs = opts.intervalMs ?? (this.tty ? 100 : 10_000);
    this.bytes = opts.unit === 'bytes';
  }

  /** Starts timing; `fromStep` > 0 when a run resumes, so speed counts only this session's steps. */
  start(fromStep = 0): void {
    this.startedAt = Date.now();
    this.startStep = fromStep;
    this.lastDraw = 0;
  }

  /** Reports that `step` of `total` is done, with extra values to show (e.g. { loss }). */
  update(step: number, values: Record<string, number> = {}, force = false): void {
    if (this.silent) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < this.intervalMs && step < this.total) return;
    this.lastDraw = now;
    const elapsed = (now - this.startedAt) / 1000;
    const done = step - this.startStep;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? (this.total - step) / rate : NaN;
    const shown = Object.entries(values)
      .map(([k, v]) => `${k} ${formatNumber(v)}`)
      .join('  ');
    const head = this.bytes
      ? `${this.label} ${formatBytes(step)}/${formatBytes(this.total)}`
      : `${this.label} ${step}/${this.total}`;
    const speed = this.bytes ? `${formatBytes(rate)}/s` : `${rate.toFixed(2)} it/s`;
    const tail = `${shown}  ${speed}  ETA ${formatDuration(eta)}`;
    if (this.tty) {
      const width = 24;
      const filled = Math.round((width * step) / Math.max(1, this.total));
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      this.stream.write(`\r\x1b[2K${head} ${bar} ${tail}`);
    } else {
      this.stream.write(`${head}  ${tail}\n`);
    }
  }

  /** Ends the display with a final line. */
  done(message = ''): void {
    if (this.silent) return;
    const elapsed = (Date.now() - this.startedAt) / 1000;
    if (this.tty) this.stream.write('\r\x1b[2K');
    this.stream.write(`${this.label} done in ${formatDuration(elapsed)}${message ? `  ${message}` : ''}\n`);
  }
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(a < 1 ? 4 : 3);
}

/** Bytes as `512 B`, `1.5 kB`, `23.4 MB`, `1.20 GB` (powers of 1000, like huggingface_hub's bars). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}
