/**
 * Reads a run directory into `RunReportData`. What it looks for:
 *   DIR/metrics.jsonl, DIR/runs/* /metrics.jsonl, DIR/* /metrics.jsonl   training curves (one run each)
 *   DIR/report.json                                                     quickstart summary, tables, examples
 *   *.json beside any of those metrics.jsonl files or in DIR            eval JSON (`dalm eval ... --json`)
 *   DIR/index/passages.jsonl                                            text of the passages examples cite
 * A training run directory (`--run-dir`) has the first; a quickstart output directory has the
 * others (runs/retriever, runs/generator, index/, report.json).
 */
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseMetricLines, trainingRunFromLines } from './metric-lines';
import {
  examplesFromReportJson,
  summaryFromReportJson,
  tableFromEvalJson,
  tablesFromReportJson,
} from './metric-tables';
import type { ReportExample, RunReportData, TrainingRun } from './report-data';

export const METRICS_FILE = 'metrics.jsonl';
export const REPORT_JSON_FILE = 'report.json';

const exists = (p: string) =>
  fsp.stat(p).then(
    (s) => s,
    () => null,
  );

async function subdirs(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** The directories under `dir` (itself, runs/*, * ) that hold a metrics.jsonl, with the run name of each. */
async function findRunDirs(dir: string): Promise<{ name: string; dir: string }[]> {
  const found: { name: string; dir: string }[] = [];
  if (await exists(path.join(dir, METRICS_FILE))) found.push({ name: path.basename(path.resolve(dir)), dir });
  for (const parent of [path.join(dir, 'runs'), dir]) {
    if (!(await exists(parent))?.isDirectory()) continue;
    for (const name of await subdirs(parent)) {
      const sub = path.join(parent, name);
      if (await exists(path.join(sub, METRICS_FILE))) found.push({ name, dir: sub });
    }
  }
  return found;
}

async function readJson(file: string): Promise<unknown> {
  const text = await fsp.readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

async function jsonFiles(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.json') && e.name !== REPORT_JSON_FILE)
    .map((e) => path.join(dir, e.name))
    .sort();
}

/** Fills in the text of cited passages from a passages.jsonl, reading only until all are found. */
async function attachPassageText(examples: ReportExample[], passagesFile: string): Promise<void> {
  const wanted = new Set(examples.flatMap((e) => e.citations.filter((c) => c.text === undefined).map((c) => c.id)));
  if (wanted.size === 0 || !(await exists(passagesFile))) return;
  const text = new Map<string, string>();
  const lines = createInterface({ input: createReadStream(passagesFile, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let p: { id?: unknown; text?: unknown };
    try {
      p = JSON.parse(line) as { id?: unknown; text?: unknown };
    } catch {
      continue; // the index loader reports bad lines; here a passage text is only a nicety
    }
    if (typeof p.id === 'string' && wanted.has(p.id) && typeof p.text === 'string') text.set(p.id, p.text);
    if (text.size === wanted.size) break;
  }
  lines.close();
  for (const e of examples)
    for (const c of e.citations) if (c.text === undefined && text.has(c.id)) c.text = text.get(c.id);
}

/**
 * Loads what a report shows from a training run directory or a quickstart output directory.
 * Throws when the directory is missing, or holds no metrics.jsonl, report.json or eval JSON.
 *
 * @example
 * const html = renderRunReport(await loadRunReportData('runs/quickstart'));
 */
export async function loadRunReportData(dir: string): Promise<RunReportData> {
  if (!(await exists(dir))?.isDirectory()) throw new Error(`${dir}: no such directory`);
  const runs: TrainingRun[] = [];
  const runDirs = await findRunDirs(dir);
  for (const r of runDirs) {
    const file = path.join(r.dir, METRICS_FILE);
    runs.push(trainingRunFromLines(r.name, file, parseMetricLines(await fsp.readFile(file, 'utf8'), file)));
  }
  const data: RunReportData = {
    title: `Training run ${path.basename(path.resolve(dir))}`,
    dir,
    summary: [],
    runs,
    tables: [],
    examples: [],
  };

  const reportFile = path.join(dir, REPORT_JSON_FILE);
  if (await exists(reportFile)) {
    const report = await readJson(reportFile);
    if (report === null || typeof report !== 'object' || Array.isArray(report))
      throw new Error(`${reportFile}: expected a JSON object`);
    const r = report as Record<string, unknown>;
    if (typeof r.domain === 'string') data.title = `Quickstart: ${r.domain}`;
    data.summary = summaryFromReportJson(r);
    data.tables.push(...tablesFromReportJson(r, REPORT_JSON_FILE));
    data.examples = examplesFromReportJson(r, reportFile);
    await attachPassageText(data.examples, path.join(dir, 'index', 'passages.jsonl'));
  }

  const evalDirs = [dir, ...runDirs.map((r) => r.dir).filter((d) => path.resolve(d) !== path.resolve(dir))];
  for (const d of evalDirs) {
    for (const file of await jsonFiles(d)) {
      const json = await readJson(file);
      if (json === null || typeof json !== 'object' || Array.isArray(json)) continue;
      const t = tableFromEvalJson(json as Record<string, unknown>, path.relative(dir, file) || path.basename(file));
      if (t) data.tables.push(t);
    }
  }

  if (runs.length === 0 && data.tables.length === 0) {
    throw new Error(
      `${dir}: no ${METRICS_FILE} (looked for ${path.join(dir, METRICS_FILE)}, ${path.join(dir, 'runs', '*', METRICS_FILE)}, ` +
        `${path.join(dir, '*', METRICS_FILE)}), no ${REPORT_JSON_FILE} and no eval JSON`,
    );
  }
  return data;
}
