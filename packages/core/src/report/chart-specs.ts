/**
 * Chart.js configurations for a report, as plain JSON (the page's bootstrap script hands each to
 * `new Chart(canvas, config)`). Per training run: loss with the learning rate on a second axis and
 * re-index events marked; gradient norm with step time; evaluations during training; other
 * per-step values the recipe logged. Per metric table: a grouped bar chart of the systems.
 */
import type { MetricTable, StepPoint, TrainingRun } from './report-data';

/** One chart: the canvas id, a heading, and the Chart.js configuration. */
export interface ChartSpec {
  id: string;
  title: string;
  /** Axes whose ticks are written in exponent form (e.g. the learning rate). */
  expAxes: string[];
  config: {
    type: string;
    data: { labels?: string[]; datasets: Record<string, unknown>[] };
    options: Record<string, unknown>;
  };
}

/** Tableau 10: distinguishable, colour-blind-friendlier than the defaults. */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];
/** Most points drawn per line; longer runs are thinned evenly (the last step is always kept). */
export const MAX_POINTS = 2000;
/** Metrics drawn first (visible) in evaluation and comparison charts; others start hidden. */
const PREFERRED = ['ndcg@10', 'mrr@10', 'recall@1', 'recall@5', 'recall@10', 'f1', 'exact_match'];
const VISIBLE_EVAL_LINES = 4;

type Pt = { x: number; y: number };

function thin<T>(xs: T[]): T[] {
  if (xs.length <= MAX_POINTS) return xs;
  const every = Math.ceil(xs.length / MAX_POINTS);
  return xs.filter((_, i) => i % every === 0 || i === xs.length - 1);
}

function line(label: string, data: Pt[], color: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const few = data.length <= 40;
  return {
    type: 'line',
    label,
    data,
    borderColor: color,
    backgroundColor: color,
    borderWidth: 2,
    pointRadius: few ? 2.5 : 0,
    pointHoverRadius: 4,
    tension: 0,
    ...extra,
  };
}

const stepAxis = { type: 'linear', title: { display: true, text: 'step' }, ticks: { precision: 0, maxTicksLimit: 10 } };
const axis = (text: string, extra: Record<string, unknown> = {}) => ({
  type: 'linear',
  title: { display: true, text },
  ticks: { maxTicksLimit: 6 },
  ...extra,
});
const rightAxis = (text: string) => axis(text, { position: 'right', grid: { drawOnChartArea: false } });
const lineOptions = (scales: Record<string, unknown>) => ({
  scales,
  interaction: { mode: 'nearest', axis: 'x', intersect: false },
  plugins: { legend: { position: 'bottom', labels: { boxWidth: 18, boxHeight: 3 } } },
});

function series(steps: StepPoint[], pick: (s: StepPoint) => number | null | undefined): Pt[] {
  const out: Pt[] = [];
  for (const s of steps) {
    const y = pick(s);
    if (y !== null && y !== undefined && Number.isFinite(y)) out.push({ x: s.step, y });
  }
  return out;
}

/** Metric names ordered for display: preferred ones first, then the rest as given. */
export function orderMetrics(names: string[]): string[] {
  return [...PREFERRED.filter((m) => names.includes(m)), ...names.filter((m) => !PREFERRED.includes(m))];
}

/** The charts of one training run (`index` makes the canvas ids unique in the page). */
export function runCharts(run: TrainingRun, index: number): ChartSpec[] {
  const steps = thin(run.steps);
  const charts: ChartSpec[] = [];
  const id = (what: string) => `run${index}-${what}`;
  if (steps.length) {
    const datasets = [
      line(
        'loss',
        series(steps, (s) => s.loss),
        PALETTE[0],
        { yAxisID: 'y' },
      ),
    ];
    const lr = series(steps, (s) => s.lr);
    if (lr.length)
      datasets.push(
        line('learning rate', lr, PALETTE[1], { yAxisID: 'lr', borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0 }),
      );
    const lossAt = new Map(run.steps.map((s) => [s.step, s.loss]));
    const reindex = run.events
      .filter((e) => e.event === 'reindex')
      .map((e) => ({ x: e.step, y: lossAt.get(e.step) ?? NaN }))
      .filter((p) => Number.isFinite(p.y));
    if (reindex.length) {
      datasets.push({
        type: 'scatter',
        label: 're-index',
        data: reindex,
        yAxisID: 'y',
        pointStyle: 'triangle',
        pointRadius: 7,
        borderColor: PALETTE[2],
        backgroundColor: PALETTE[2],
      });
    }
    const scales: Record<string, unknown> = { x: stepAxis, y: axis('loss') };
    if (lr.length) scales.lr = rightAxis('learning rate');
    charts.push({
      id: id('loss'),
      title: 'Loss and learning rate',
      expAxes: ['lr'],
      config: { type: 'line', data: { datasets }, options: lineOptions(scales) },
    });

    const gn = series(steps, (s) => s.grad_norm);
    const ms = series(steps, (s) => s.step_ms);
    if (gn.length || ms.length) {
      const ds = [];
      if (gn.length) ds.push(line('gradient norm (before clipping)', gn, PALETTE[4], { yAxisID: 'y' }));
      if (ms.length) ds.push(line('step time (ms)', ms, PALETTE[9], { yAxisID: 'ms', borderWidth: 1, pointRadius: 0 }));
      const sc: Record<string, unknown> = { x: stepAxis, y: axis('gradient norm') };
      if (ms.length) sc.ms = rightAxis('ms per step');
      charts.push({
        id: id('grad'),
        title: 'Gradient norm and step time',
        expAxes: [],
        config: { type: 'line', data: { datasets: ds }, options: lineOptions(sc) },
      });
    }

    const extraKeys = [...new Set(steps.flatMap((s) => Object.keys(s.extra)))];
    if (extraKeys.length) {
      const ds = extraKeys.map((k, i) =>
        line(
          k,
          series(steps, (s) => s.extra[k]),
          PALETTE[(i + 5) % PALETTE.length],
        ),
      );
      charts.push({
        id: id('extra'),
        title: 'Values logged by the recipe',
        expAxes: [],
        config: { type: 'line', data: { datasets: ds }, options: lineOptions({ x: stepAxis, y: axis('value') }) },
      });
    }
  }
  if (run.evals.length) {
    const names = orderMetrics([...new Set(run.evals.flatMap((e) => Object.keys(e.metrics)))]);
    const ds = names.map((m, i) =>
      line(
        m,
        run.evals.filter((e) => m in e.metrics).map((e) => ({ x: e.step, y: e.metrics[m] })),
        PALETTE[i % PALETTE.length],
        {
          hidden: i >= VISIBLE_EVAL_LINES,
          pointRadius: 3,
        },
      ),
    );
    charts.push({
      id: id('eval'),
      title: 'Evaluations during training',
      expAxes: [],
      config: { type: 'line', data: { datasets: ds }, options: lineOptions({ x: stepAxis, y: axis('metric') }) },
    });
  }
  return charts;
}

/** A grouped bar chart of a metric table: one group per metric, one bar per system (null for a single system). */
export function tableChart(table: MetricTable, index: number): ChartSpec | null {
  if (table.rows.length < 2) return null;
  const metrics = orderMetrics(table.metrics).filter((m) => PREFERRED.includes(m));
  const shown = metrics.length ? metrics : table.metrics.slice(0, 6);
  if (shown.length === 0) return null;
  const unit = table.rows.every((r) =>
    shown.every((m) => r.values[m] === undefined || (r.values[m]! >= 0 && r.values[m]! <= 1)),
  );
  const datasets = table.rows.map((r, i) => ({
    label: r.label,
    data: shown.map((m) => r.values[m] ?? null),
    backgroundColor: PALETTE[i % PALETTE.length],
    borderWidth: 0,
  }));
  return {
    id: `table${index}-bars`,
    title: 'Metrics by system',
    expAxes: [],
    config: {
      type: 'bar',
      data: { labels: shown, datasets },
      // Scores in [0, 1] keep the full [0, 1] axis, so small differences are not drawn as large ones.
      options: {
        scales: { y: { beginAtZero: true, ...(unit ? { max: 1 } : {}), title: { display: true, text: 'score' } } },
        plugins: { legend: { position: 'bottom' } },
      },
    },
  };
}
