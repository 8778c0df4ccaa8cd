#!/usr/bin/env node
// The `dalm` binary. Installed from npm it runs the built CLI (dist/main.js) on plain Node. In the
// repository before a build it runs the TypeScript sources through tsx (a dev dependency there);
// `pnpm dalm ...` always runs the sources.
import { existsSync } from 'node:fs';

const built = new URL('../dist/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
