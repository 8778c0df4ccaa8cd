/** Appends one JSON object per line to `runDir/metrics.jsonl` (step metrics, evaluations, events). */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { parseMetricLines } from '@dalm/core';

export class MetricLog {
  readonly path: string | null;
  constructor(runDir: string | null) {
    this.path = runDir ? path.join(runDir, 'metrics.jsonl') : null;
  }

  async write(record: Record<string, unknown>): Promise<void> {
    if (!this.path) return;
    await fsp.mkdir(path.dirname(this.path), { recursive: true });
    await fsp.appendFile(this.path, JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n');
  }
}

/** Reads a metrics.jsonl back (for reports and tests); a bad line throws `file:line: not valid JSON`. */
export async function readMetricLog(file: string): Promise<Record<string, unknown>[]> {
  return parseMetricLines(await fsp.readFile(file, 'utf8'), file);
}
