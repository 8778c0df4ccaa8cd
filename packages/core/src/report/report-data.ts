/**
 * What a run report shows, as plain data: the training curves of each run (from its
 * `metrics.jsonl`), before/after metric tables (from a quickstart `report.json` or eval JSON),
 * and example answers with the passages they cite. `loadRunReportData(dir)` builds it from a
 * run directory; `renderRunReport(data)` turns it into one self-contained HTML page. Nothing here
 * depends on the trainer, so a server can render the same reports.
 */

/** One optimizer-step line of metrics.jsonl: `{step, loss, lr, grad_norm, step_ms, ...}`. */
export interface StepPoint {
  step: number;
  loss: number;
  lr: number | null;
  grad_norm: number | null;
  step_ms: number | null;
  /** Other numeric values the recipe logged with the step (e.g. `retrieval_entropy`). */
  extra: Record<string, number>;
}

/** One `{event: 'eval', step, ...metrics}` line: an evaluation during training. */
export interface EvalPoint {
  step: number;
  metrics: Record<string, number>;
}

/** Any other event line (`reindex`, `checkpoint`, `resume`, `end`), with its numeric fields. */
export interface EventPoint {
  step: number;
  event: string;
  values: Record<string, number>;
}

/** The parsed metrics.jsonl of one training run. */
export interface TrainingRun {
  /** Short name shown as the section title, e.g. `retriever` for runs/retriever. */
  name: string;
  /** The metrics.jsonl it was read from (as given to the loader). */
  file: string;
  steps: StepPoint[];
  evals: EvalPoint[];
  events: EventPoint[];
}

/** A paired difference of one metric between a row and another system (bootstrap or permutation). */
export interface PairedDelta {
  delta: number;
  low: number;
  high: number;
  p: number;
}

/** One system in a metric table: its values, and where given their 95% intervals and paired differences. */
export interface MetricRow {
  /** Key in the source JSON, e.g. `dense_after`. */
  key: string;
  /** Label shown, e.g. `dense, after training`. */
  label: string;
  values: Record<string, number>;
  /** metric -> [low, high] */
  ci95: Record<string, [number, number]>;
  /** other system key -> metric -> difference of this row minus that system. */
  paired: Record<string, Record<string, PairedDelta>>;
}

/** A table of systems (rows) by metrics (columns). */
export interface MetricTable {
  title: string;
  /** Where it came from (file name), shown under the table. */
  source: string;
  /** Primary metric, highlighted, when the source names one. */
  primary: string | null;
  /** Column order. */
  metrics: string[];
  rows: MetricRow[];
}

/** A passage an answer cites. */
export interface ReportCitation {
  id: string;
  source?: string;
  score: number;
  /** Passage text, when the run has an index with the passages. */
  text?: string;
}

/** An example question with the system's answer. */
export interface ReportExample {
  question: string;
  reference?: string;
  answer: string;
  /** Whether the answer counts as correct, when the source marks it. */
  correct?: boolean;
  citations: ReportCitation[];
}

/** Everything a run report shows. */
export interface RunReportData {
  title: string;
  /** The run directory it was loaded from, if any. */
  dir: string | null;
  /** Key facts shown at the top (domain, passages, questions, seconds, ...). */
  summary: [string, string][];
  runs: TrainingRun[];
  tables: MetricTable[];
  examples: ReportExample[];
}
