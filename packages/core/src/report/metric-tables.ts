/**
 * Metric tables from the JSON the framework writes: a quickstart `report.json` (`retrieval` and
 * `answers`, each a map of system -> metric object), `dalm eval retriever --json`
 * (`{primary, queries, results: {mode: metrics}}`) and `dalm eval generator --json`
 * (`{primary, setting, exact_match, f1, count}`). A metric object holds numbers by metric name and
 * may carry `ci95: {metric: [low, high]}` and `paired: {system: {metric: {delta, low, high, p}}}`;
 * those are shown when present, the plain values otherwise.
 */
import type { MetricRow, MetricTable, PairedDelta, ReportExample } from './report-data';

/** Labels of the systems and tables the quickstart reports (other keys are shown as written). */
export const ROW_LABELS: Readonly<Record<string, string>> = Object.freeze({
  bm25: 'BM25',
  dense_before: 'dense, before training',
  dense_after: 'dense, after training',
  hybrid_after: 'hybrid (dense + BM25), after training',
  before: 'RAG, before training',
  after: 'RAG, after training',
  after_closed_book: 'closed-book, after training',
});
export const TABLE_TITLES: Readonly<Record<string, string>> = Object.freeze({
  retrieval: 'Retrieval on held-out questions',
  answers: 'Answers to held-out questions',
});
/** Numeric fields that count items rather than score them (shown as n, not as a metric column). */
const COUNT_KEYS = new Set(['count', 'queries', 'n']);
/** Highlighted column when the source names no primary metric: the framework's primaries. */
const DEFAULT_PRIMARIES = ['ndcg@10', 'f1'];

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const words = (key: string) =>
  key.replace(/_/g, ' ').replace(/([a-z])([A-Z])/g, (_, a: string, b: string) => `${a} ${b.toLowerCase()}`);

function interval(v: unknown): [number, number] | null {
  if (Array.isArray(v) && v.length === 2 && isNum(v[0]) && isNum(v[1])) return [v[0], v[1]];
  if (isObj(v) && isNum(v.low) && isNum(v.high)) return [v.low, v.high];
  return null;
}

/** True when `v` looks like a metric object (at least one numeric metric). */
export function isMetricObject(v: unknown): v is Record<string, unknown> {
  return isObj(v) && Object.entries(v).some(([k, x]) => isNum(x) && !COUNT_KEYS.has(k));
}

/** One table row from a metric object; `ci95` and `paired` are read when present. */
export function metricRow(key: string, m: Record<string, unknown>): MetricRow & { n: number | null } {
  const values: Record<string, number> = {};
  let n: number | null = null;
  for (const [k, v] of Object.entries(m)) {
    if (!isNum(v)) continue;
    if (COUNT_KEYS.has(k)) n = v;
    else values[k] = v;
  }
  const ci95: Record<string, [number, number]> = {};
  if (isObj(m.ci95))
    for (const [k, v] of Object.entries(m.ci95)) {
      const iv = interval(v);
      if (iv) ci95[k] = iv;
    }
  const paired: Record<string, Record<string, PairedDelta>> = {};
  if (isObj(m.paired))
    for (const [other, byMetric] of Object.entries(m.paired)) {
      if (!isObj(byMetric)) continue;
      for (const [metric, d] of Object.entries(byMetric)) {
        if (!isObj(d) || !isNum(d.delta)) continue;
        (paired[other] ??= {})[metric] = {
          delta: d.delta,
          low: isNum(d.low) ? d.low : NaN,
          high: isNum(d.high) ? d.high : NaN,
          p: isNum(d.p) ? d.p : NaN,
        };
      }
    }
  return { key, label: ROW_LABELS[key] ?? words(key), values, ci95, paired, n };
}

function table(
  title: string,
  source: string,
  primary: unknown,
  rows: (MetricRow & { n: number | null })[],
): MetricTable {
  const metrics: string[] = [];
  for (const r of rows) for (const k of Object.keys(r.values)) if (!metrics.includes(k)) metrics.push(k);
  const p =
    typeof primary === 'string' && metrics.includes(primary)
      ? primary
      : (DEFAULT_PRIMARIES.find((x) => metrics.includes(x)) ?? null);
  const ns = new Set(rows.map((r) => r.n));
  const only = ns.size === 1 ? [...ns][0] : null;
  return {
    title: only !== null && only !== undefined ? `${title} (n = ${only})` : title,
    source,
    primary: p,
    metrics,
    rows: rows.map(({ n, ...r }) => (ns.size > 1 && n !== null ? { ...r, label: `${r.label} (n = ${n})` } : r)),
  };
}

/** The metric tables of a quickstart report.json: every top-level map of system -> metric object. */
export function tablesFromReportJson(report: Record<string, unknown>, source: string): MetricTable[] {
  const out: MetricTable[] = [];
  for (const [key, v] of Object.entries(report)) {
    if (!isObj(v)) continue;
    const entries = Object.entries(v).filter(([, m]) => isMetricObject(m));
    if (entries.length === 0 || entries.length !== Object.keys(v).length) continue;
    const n = isNum(report.heldOutQuestions) ? report.heldOutQuestions : null;
    out.push(
      table(
        TABLE_TITLES[key] ?? words(key),
        source,
        null,
        entries.map(([k, m]) => ({ ...metricRow(k, m as Record<string, unknown>), n: n ?? null })),
      ),
    );
  }
  return out;
}

/** The scalar facts of a report.json (domain, counts, seconds), as label/value pairs. */
export function summaryFromReportJson(report: Record<string, unknown>): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(report)) {
    if (k === 'seconds' && isNum(v))
      out.push(['run time', v >= 90 ? `${Math.floor(v / 60)} min ${Math.round(v % 60)} s` : `${v.toFixed(1)} s`]);
    else if (isNum(v) || typeof v === 'string') out.push([words(k), String(v)]);
  }
  return out;
}

/** A table from `dalm eval retriever --json` / `dalm eval generator --json` output; null when `json` is neither. */
export function tableFromEvalJson(json: Record<string, unknown>, source: string): MetricTable | null {
  if (isObj(json.results) && Object.values(json.results).length && Object.values(json.results).every(isMetricObject)) {
    const n = isNum(json.queries) ? json.queries : null;
    const rows = Object.entries(json.results).map(([k, m]) => ({ ...metricRow(k, m as Record<string, unknown>), n }));
    return table('Retrieval', source, json.primary, rows);
  }
  if (typeof json.setting === 'string' && isMetricObject(json)) {
    const { setting, primary, ...rest } = json;
    return table('Answers', source, primary, [metricRow(setting, rest)]);
  }
  return null;
}

/** The examples of a report.json (`examples: [{question, reference, answer, correct?, citations}]`). */
export function examplesFromReportJson(report: Record<string, unknown>, source: string): ReportExample[] {
  if (report.examples === undefined) return [];
  if (!Array.isArray(report.examples)) throw new Error(`${source}: "examples" must be an array`);
  return report.examples.map((e, i) => {
    if (!isObj(e) || typeof e.question !== 'string' || typeof e.answer !== 'string') {
      throw new Error(`${source}: examples[${i}] needs "question" and "answer" strings`);
    }
    const citations = Array.isArray(e.citations) ? e.citations.filter(isObj) : [];
    return {
      question: e.question,
      answer: e.answer,
      ...(typeof e.reference === 'string' ? { reference: e.reference } : {}),
      ...(typeof e.correct === 'boolean' ? { correct: e.correct } : {}),
      citations: citations.map((c) => ({
        id: String(c.id),
        score: isNum(c.score) ? c.score : NaN,
        ...(typeof c.source === 'string' ? { source: c.source } : {}),
        ...(typeof c.text === 'string' ? { text: c.text } : {}),
      })),
    };
  });
}
