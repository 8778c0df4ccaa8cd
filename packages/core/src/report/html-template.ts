/**
 * The report page: `renderRunReport(data)` returns one self-contained HTML document (styles, the
 * Chart.js build, chart configurations and a few lines that draw them are all inline), so the file
 * opens from disk with no network. Sections: key facts, before/after metric tables (values, 95%
 * intervals and paired differences when the data carries them), training curves per run, and
 * example answers with the passages they cite.
 */
import { chartLibrary } from './chart-library';
import { runCharts, tableChart, orderMetrics, type ChartSpec } from './chart-specs';
import type { MetricTable, ReportExample, RunReportData, TrainingRun } from './report-data';

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fmt = (v: number | undefined, digits = 4) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const signed = (v: number, digits = 3) =>
  Number.isFinite(v) ? (v >= 0 ? '+' : '−') + Math.abs(v).toFixed(digits) : '–';
const pValue = (p: number) => (!Number.isFinite(p) ? '–' : p < 0.001 ? '< 0.001' : p.toFixed(3));

function canvas(spec: ChartSpec, tall = false): string {
  return `<figure class="chart${tall ? ' tall' : ''}"><figcaption>${escapeHtml(spec.title)}</figcaption><div class="canvas-box"><canvas id="${spec.id}" role="img" aria-label="${escapeHtml(spec.title)}"></canvas></div></figure>`;
}

function metricTableHtml(t: MetricTable): string {
  const metrics = orderMetrics(t.metrics);
  const best: Record<string, number> = {};
  for (const m of metrics) {
    const vs = t.rows.map((r) => r.values[m]).filter((v): v is number => v !== undefined);
    best[m] = vs.length > 1 && Math.min(...vs) < Math.max(...vs) ? Math.max(...vs) : NaN; // no winner among equals
  }
  const head = metrics
    .map((m) => `<th class="num${m === t.primary ? ' primary' : ''}" scope="col">${escapeHtml(m)}</th>`)
    .join('');
  const body = t.rows
    .map((r) => {
      const cells = metrics
        .map((m) => {
          const v = r.values[m];
          const ci = r.ci95[m];
          const cls = ['num', m === t.primary ? 'primary' : '', v !== undefined && v === best[m] ? 'best' : '']
            .filter(Boolean)
            .join(' ');
          const interval = ci ? `<span class="ci">[${fmt(ci[0], 3)}, ${fmt(ci[1], 3)}]</span>` : '';
          return `<td class="${cls}" data-metric="${escapeHtml(m)}">${fmt(v)}${interval}</td>`;
        })
        .join('');
      return `<tr data-row="${escapeHtml(r.key)}"><th scope="row">${escapeHtml(r.label)}</th>${cells}</tr>`;
    })
    .join('\n');
  const hasCi = t.rows.some((r) => Object.keys(r.ci95).length);
  const note = [
    hasCi ? 'Brackets: 95% confidence interval.' : '',
    t.primary ? `Primary metric: ${escapeHtml(t.primary)}.` : '',
    t.rows.length > 1 ? 'Bold: best in the column.' : '',
    `From ${escapeHtml(t.source)}.`,
  ].filter(Boolean);
  return `<div class="table-wrap"><table class="metrics"><thead><tr><th scope="col">system</th>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>${pairedHtml(t)}<p class="note">${note.join(' ')}</p>`;
}

function pairedHtml(t: MetricTable): string {
  const labelOf = new Map(t.rows.map((r) => [r.key, r.label]));
  const rows: string[] = [];
  for (const r of t.rows) {
    for (const [other, byMetric] of Object.entries(r.paired)) {
      for (const m of orderMetrics(Object.keys(byMetric))) {
        const d = byMetric[m];
        const sig = Number.isFinite(d.low) && Number.isFinite(d.high) && (d.low > 0 || d.high < 0);
        const cls = sig ? (d.delta > 0 ? 'up' : 'down') : 'flat';
        rows.push(
          `<tr class="${cls}" data-row="${escapeHtml(r.key)}" data-vs="${escapeHtml(other)}" data-metric="${escapeHtml(m)}"><th scope="row">${escapeHtml(r.label)}</th><td>${escapeHtml(labelOf.get(other) ?? other)}</td><td>${escapeHtml(m)}</td>` +
            `<td class="num delta">${signed(d.delta)}</td><td class="num">[${signed(d.low)}, ${signed(d.high)}]</td><td class="num">${pValue(d.p)}</td></tr>`,
        );
      }
    }
  }
  if (!rows.length) return '';
  return `<details class="paired" open><summary>Paired differences (same questions)</summary><table class="metrics"><thead><tr><th scope="col">system</th><th scope="col">minus</th><th scope="col">metric</th><th class="num" scope="col">Δ</th><th class="num" scope="col">95% CI</th><th class="num" scope="col">p</th></tr></thead><tbody>${rows.join('\n')}</tbody></table></details>`;
}

function runSummary(run: TrainingRun): string {
  const parts: string[] = [];
  const first = run.steps[0];
  const last = run.steps.at(-1);
  if (first && last) {
    parts.push(
      `${last.step} steps`,
      `loss ${fmt(first.loss, 3)} (step ${first.step}) → ${fmt(last.loss, 3)} (step ${last.step})`,
    );
    const ms = run.steps.map((s) => s.step_ms).filter((x): x is number => x !== null);
    if (ms.length) parts.push(`median step ${Math.round([...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)])} ms`);
  }
  if (run.evals.length) parts.push(`${run.evals.length} evaluation${run.evals.length > 1 ? 's' : ''}`);
  const counts = new Map<string, number>();
  for (const e of run.events) counts.set(e.event, (counts.get(e.event) ?? 0) + 1);
  for (const [ev, n] of counts) if (ev !== 'end') parts.push(`${n} ${ev}${n > 1 ? 's' : ''}`);
  const leaked = run.events.find((e) => e.event === 'end')?.values.leaked_tensors;
  if (leaked !== undefined && leaked !== 0) parts.push(`${leaked} tensors leaked`);
  return parts.map(escapeHtml).join(' · ');
}

function exampleHtml(e: ReportExample, i: number): string {
  const mark =
    e.correct === undefined
      ? ''
      : e.correct
        ? '<span class="mark ok" title="correct">✓ correct</span>'
        : '<span class="mark bad" title="incorrect">✗ incorrect</span>';
  const cites = e.citations
    .map(
      (c) =>
        `<li><span class="cite-id">[${escapeHtml(c.id)}]</span> <span class="score">score ${fmt(c.score, 3)}</span>${c.source && c.source !== c.id ? ` <span class="src">${escapeHtml(c.source)}</span>` : ''}` +
        (c.text
          ? `<blockquote>${escapeHtml(c.text.length > 600 ? c.text.slice(0, 600) + '…' : c.text)}</blockquote>`
          : '') +
        '</li>',
    )
    .join('');
  return (
    `<article class="example" data-example="${i}"><p class="q"><span class="tag">Q</span>${escapeHtml(e.question)}</p>` +
    `<p class="a"><span class="tag">A</span>${escapeHtml(e.answer) || '<em>(empty)</em>'} ${mark}</p>` +
    (e.reference !== undefined ? `<p class="ref">reference: ${escapeHtml(e.reference)}</p>` : '') +
    (cites ? `<ol class="cites">${cites}</ol>` : '<p class="ref">no passages cited</p>') +
    '</article>'
  );
}

const STYLE = `
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f7f8fa;--card:#fff;--accent:#4e79a7;--ok:#2f855a;--bad:#c53030}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:32px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:0 0 4px}
.sub,.note,.run-meta,.ref,.src,.score{color:var(--muted)}
.sub{margin:0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin:0 0 16px}
dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px 18px;margin:16px 0 0}
dl.facts div{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 12px}
dl.facts dt{font-size:12px;color:var(--muted)}
dl.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.table-wrap{overflow-x:auto}
table.metrics{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;margin:8px 0}
table.metrics{font-size:13px}
table.metrics th,table.metrics td{padding:6px 7px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;white-space:nowrap}
table.metrics tbody th{white-space:normal;min-width:150px}
table.metrics thead th{font-size:12px;color:var(--muted);font-weight:600;border-bottom:2px solid var(--line)}
table.metrics .num{text-align:right}
table.metrics .primary{background:#f0f5fb}
table.metrics td.best{font-weight:700}
.ci{display:block;font-size:11px;color:var(--muted);font-weight:400}
details.paired{margin:8px 0}
details.paired summary{cursor:pointer;color:var(--muted);font-size:13px}
tr.up .delta{color:var(--ok);font-weight:600}
tr.down .delta{color:var(--bad);font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:14px;margin-top:12px}
figure.chart{margin:0;background:var(--card)}
figure.chart figcaption{font-size:12px;font-weight:600;color:var(--muted);margin-bottom:4px}
.canvas-box{position:relative;height:260px}
figure.chart.tall .canvas-box{height:300px}
.table-card{display:grid;grid-template-columns:minmax(0,1fr);gap:6px}
.examples{display:grid;gap:12px}
.example p{margin:0 0 6px}
.tag{display:inline-block;min-width:20px;margin-right:8px;font-weight:700;color:var(--accent)}
.mark{font-size:12px;font-weight:600;border-radius:10px;padding:1px 8px;margin-left:6px}
.mark.ok{background:#e6f4ea;color:var(--ok)}
.mark.bad{background:#fdecec;color:var(--bad)}
ol.cites{margin:6px 0 0;padding-left:22px}
ol.cites li{margin:4px 0}
.cite-id{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
blockquote{margin:4px 0 8px;padding:6px 10px;border-left:3px solid var(--line);background:#fafbfc;color:#344054;font-size:13px;white-space:pre-wrap}
footer{margin-top:36px;color:var(--muted);font-size:12px}
`;

/** Draws every chart of the page; sets `window.dalmReport` for tests and tools that embed the page. */
const BOOTSTRAP = `
(function () {
  var specs = JSON.parse(document.getElementById('report-charts').textContent);
  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = '#475467';
  Chart.defaults.borderColor = '#eaecf0';
  var charts = {};
  specs.forEach(function (s) {
    s.expAxes.forEach(function (a) {
      var sc = s.config.options.scales && s.config.options.scales[a];
      if (sc) sc.ticks = Object.assign({}, sc.ticks, { callback: function (v) { return Number(v).toExponential(1); } });
    });
    charts[s.id] = new Chart(document.getElementById(s.id), s.config);
  });
  window.dalmReport = { charts: charts, specs: specs };
})();
`;

/** JSON for a <script type="application/json"> element (`<` escaped, so no `</script>` can close it). */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

/**
 * Renders a report as one self-contained HTML page (no network: Chart.js is inlined).
 *
 * @example
 * const html = renderRunReport(await loadRunReportData('runs/quickstart'));
 * await atomicWriteFile('runs/quickstart/report.html', html);
 */
export function renderRunReport(data: RunReportData): string {
  const lib = chartLibrary();
  const specs: ChartSpec[] = [];
  const sections: string[] = [];

  if (data.summary.length) {
    sections.push(
      `<dl class="facts">${data.summary.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('')}</dl>`,
    );
  }
  if (data.tables.length) {
    const cards = data.tables.map((t, i) => {
      const chart = tableChart(t, i);
      if (chart) specs.push(chart);
      return `<section class="card table-card" data-table="${i}"><h3>${escapeHtml(t.title)}</h3>${chart ? canvas(chart, true) : ''}${metricTableHtml(t)}</section>`;
    });
    sections.push(`<h2>Before and after</h2>${cards.join('\n')}`);
  }
  if (data.runs.length) {
    const cards = data.runs.map((run, i) => {
      const charts = runCharts(run, i);
      specs.push(...charts);
      return `<section class="card run" data-run="${escapeHtml(run.name)}"><h3>${escapeHtml(run.name)}</h3><p class="run-meta">${runSummary(run)}<br><span class="src">${escapeHtml(run.file)}</span></p><div class="grid">${charts.map((c) => canvas(c)).join('')}</div></section>`;
    });
    sections.push(`<h2>Training</h2>${cards.join('\n')}`);
  }
  if (data.examples.length) {
    sections.push(
      `<h2>Examples</h2><div class="examples">${data.examples.map((e, i) => `<div class="card">${exampleHtml(e, i)}</div>`).join('\n')}</div>`,
    );
  }

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header><h1>${escapeHtml(data.title)}</h1>${data.dir ? `<p class="sub">${escapeHtml(data.dir)}</p>` : ''}</header>
${sections.join('\n')}
<footer>Written by dalm. Charts drawn by Chart.js ${escapeHtml(lib.version)} (MIT license), inlined in this file.</footer>
</main>
<script>${lib.source}</script>
<script type="application/json" id="report-charts">${scriptJson(specs)}</script>
<script>${BOOTSTRAP}</script>
</body>
</html>
`;
}
