// Run reports: metrics.jsonl + report.json / eval JSON -> one self-contained HTML page.
export { loadRunReportData, METRICS_FILE, REPORT_JSON_FILE } from './load-run-report';
export { renderRunReport, escapeHtml } from './html-template';
export {
  writeRunReport,
  REPORT_HTML_FILE,
  DEFAULT_RUN_REPORT_OPTIONS,
  type RunReportOptions,
} from './write-run-report';
export { parseMetricLines, trainingRunFromLines } from './metric-lines';
export {
  tablesFromReportJson,
  tableFromEvalJson,
  examplesFromReportJson,
  summaryFromReportJson,
  metricRow,
  ROW_LABELS,
  TABLE_TITLES,
} from './metric-tables';
export { runCharts, tableChart, PALETTE, MAX_POINTS, type ChartSpec } from './chart-specs';
export { chartLibrary } from './chart-library';
export type {
  RunReportData,
  TrainingRun,
  StepPoint,
  EvalPoint,
  EventPoint,
  MetricTable,
  MetricRow,
  PairedDelta,
  ReportExample,
  ReportCitation,
} from './report-data';
