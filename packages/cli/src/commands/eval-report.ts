/** Printing evaluation results with their confidence intervals and paired tests. */
import type { PairedResult, SystemComparison } from '@dalm/core';

const f4 = (x: number) => x.toFixed(4);
const fp = (p: number) => (p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`);

/** A metric × system table, each cell "mean [low, high]". */
export function formatWithCi(
  results: Record<string, Record<string, number>>,
  ci95: SystemComparison['ci95'],
  metrics: readonly string[],
): string {
  const systems = Object.keys(results);
  const cell = (s: string, m: string) => {
    const ci = ci95[s]?.[m];
    return `${f4(results[s]![m]!)} [${ci ? `${f4(ci[0])}, ${f4(ci[1])}` : '-'}]`;
  };
  const width = Math.max(26, ...systems.map((s) => s.length + 2));
  const lines = [`${'metric'.padEnd(12)}${systems.map((s) => s.padStart(width)).join('')}`];
  for (const m of metrics) lines.push(`${m.padEnd(12)}${systems.map((s) => cell(s, m).padStart(width)).join('')}`);
  return lines.join('\n');
}

/** One line per later system: delta against the first on `metric`, its interval and p. */
export function formatPaired(paired: SystemComparison['paired'], baseline: string, metrics: readonly string[]): string {
  const lines: string[] = [];
  for (const [s, byMetric] of Object.entries(paired)) {
    for (const m of metrics) {
      const r: PairedResult | undefined = byMetric[m];
      if (!r) continue;
      const sig = r.p < 0.05 ? 'significant at 0.05' : 'not significant at 0.05';
      lines.push(
        `${s} vs ${baseline}, ${m}: ${r.delta >= 0 ? '+' : ''}${f4(r.delta)} [${f4(r.low)}, ${f4(r.high)}], ${fp(r.p)} (${sig})`,
      );
    }
  }
  return lines.join('\n');
}
