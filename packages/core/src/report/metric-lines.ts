/**
 * The metrics.jsonl format the training loop writes (trainer's `MetricLog`), read back: one JSON
 * object per line, each with an ISO `time`, and one of
 *   - a step line `{step, loss, lr, grad_norm, step_ms, ...recipe metrics}` (a re-index during the
 *     step adds `event: 'reindex', reindex_ms, reindexed_passages` to the same line);
 *   - an evaluation `{event: 'eval', step, ...metrics}`;
 *   - another event `{event: 'checkpoint' | 'resume' | 'end', step, ...}`.
 */
import type { EvalPoint, EventPoint, StepPoint, TrainingRun } from './report-data';

/** Parses JSON lines; a bad line throws `file:line: not valid JSON`. Blank lines are skipped. */
export function parseMetricLines(text: string, file: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1}: not valid JSON`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw new Error(`${file}:${i + 1}: expected a JSON object`);
    out.push(value as Record<string, unknown>);
  });
  return out;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const STEP_KEYS = new Set([
  'time',
  'step',
  'loss',
  'lr',
  'grad_norm',
  'step_ms',
  'event',
  'reindex_ms',
  'reindexed_passages',
]);

function numbers(record: Record<string, unknown>, skip: Set<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(record)) if (!skip.has(k) && isNum(v)) out[k] = v;
  return out;
}

/**
 * Sorts metric lines into step points, evaluations and events. A resumed run may repeat steps
 * after a crash: the last line written for a step wins, so the curve has one point per step.
 */
export function trainingRunFromLines(name: string, file: string, lines: Record<string, unknown>[]): TrainingRun {
  const steps = new Map<number, StepPoint>();
  const evals = new Map<number, EvalPoint>();
  const events: EventPoint[] = [];
  lines.forEach((r, i) => {
    const step = r.step;
    if (!isNum(step)) throw new Error(`${file}: line ${i + 1} has no numeric "step"`);
    const event = typeof r.event === 'string' ? r.event : null;
    if (event === 'eval') {
      evals.set(step, { step, metrics: numbers(r, new Set(['time', 'step', 'event'])) });
      return;
    }
    if (isNum(r.loss)) {
      steps.set(step, {
        step,
        loss: r.loss,
        lr: isNum(r.lr) ? r.lr : null,
        grad_norm: isNum(r.grad_norm) ? r.grad_norm : null,
        step_ms: isNum(r.step_ms) ? r.step_ms : null,
        extra: numbers(r, STEP_KEYS),
      });
    }
    if (event)
      events.push({
        step,
        event,
        values: numbers(r, new Set(['time', 'step', 'event', 'loss', 'lr', 'grad_norm', 'step_ms'])),
      });
  });
  const byStep = <T extends { step: number }>(m: Map<number, T>) => [...m.values()].sort((a, b) => a.step - b.step);
  return { name, file, steps: byStep(steps), evals: byStep(evals), events };
}
