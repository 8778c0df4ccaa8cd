/** Loads a run directory, renders its report and writes it atomically (default `DIR/report.html`). */
import path from 'node:path';
import { atomicWriteFile } from '../io/atomic';
import { renderRunReport } from './html-template';
import { loadRunReportData } from './load-run-report';
import type { RunReportData } from './report-data';

export const REPORT_HTML_FILE = 'report.html';

export interface RunReportOptions {
  /** Where to write the page; null: `report.html` inside the run directory. */
  out: string | null;
}

export const DEFAULT_RUN_REPORT_OPTIONS: Readonly<RunReportOptions> = Object.freeze({ out: null });

/**
 * Writes the HTML report of `dir` and returns its path with the data shown.
 *
 * @example
 * const { file } = await writeRunReport('runs/train-retriever'); // runs/train-retriever/report.html
 */
export async function writeRunReport(
  dir: string,
  options: Partial<RunReportOptions> = {},
): Promise<{ file: string; data: RunReportData }> {
  const o = { ...DEFAULT_RUN_REPORT_OPTIONS, ...options };
  const data = await loadRunReportData(dir);
  const file = o.out ?? path.join(dir, REPORT_HTML_FILE);
  await atomicWriteFile(file, renderRunReport(data));
  return { file, data };
}
