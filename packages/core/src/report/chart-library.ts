/**
 * The chart library a report inlines: Chart.js (MIT), its UMD build from the installed `chart.js`
 * package, read once and cached. Inlining it keeps a report one file that opens from disk with no
 * network. The text is placed in a <script> element, so it must never contain `</script`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
let cached: { version: string; source: string } | null = null;

/** Chart.js's minified UMD build (defines `window.Chart`) and its version. */
export function chartLibrary(): { version: string; source: string } {
  if (cached) return cached;
  let main: string;
  try {
    main = require.resolve('chart.js'); // .../chart.js/dist/chart.cjs (package.json is not exported)
  } catch {
    throw new Error('report: the chart.js package is not installed (pnpm install)');
  }
  const file = path.join(path.dirname(main), 'chart.umd.min.js');
  const source = readFileSync(file, 'utf8');
  if (/<\/script/i.test(source)) throw new Error(`${file}: contains "</script", cannot be inlined`);
  const version = /Chart\.js v([\d.]+)/.exec(source)?.[1] ?? 'unknown';
  cached = { version, source };
  return cached;
}
