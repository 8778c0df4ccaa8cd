/**
 * Layering rules, checked on the sources: packages import only the packages below them
 * (core <- retriever, generator <- (server, trainer) <- cli; the server never imports the trainer; retriever and generator never import each
 * other), and no file-level import cycle exists anywhere.
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const ALLOWED: Record<string, string[]> = {
  core: [],
  retriever: ['core'],
  generator: ['core'],
  trainer: ['core', 'retriever', 'generator'],
  server: ['core', 'retriever', 'generator'], // never the trainer
  cli: ['core', 'retriever', 'generator', 'trainer', 'server'],
  all: ['core', 'retriever', 'generator', 'trainer', 'server'], // the umbrella re-exports the library (not the CLI)
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) specs.push(m[1] ?? m[2]);
  return specs;
}

function resolveRelative(from: string, spec: string): string | null {
  const base = path.resolve(path.dirname(from), spec);
  for (const cand of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (existsSync(cand) && statSync(cand).isFile()) return cand;
  }
  return null;
}

const files = Object.keys(ALLOWED).flatMap((pkg) => sourceFiles(path.join(root, 'packages', pkg, 'src')));

describe('architecture', () => {
  it('finds the sources of every package', () => {
    for (const pkg of Object.keys(ALLOWED))
      expect(existsSync(path.join(root, 'packages', pkg, 'src', 'index.ts'))).toBe(true);
    expect(files.length).toBeGreaterThan(20);
  });

  it('packages depend only downward', () => {
    const violations: string[] = [];
    for (const file of files) {
      const pkg = path.relative(path.join(root, 'packages'), file).split(path.sep)[0];
      for (const spec of importsOf(file)) {
        const m = /^@dalm\/([a-z-]+)/.exec(spec);
        if (!m) continue;
        if (m[1] === pkg) violations.push(`${path.relative(root, file)} imports its own package by name (${spec})`);
        else if (!ALLOWED[pkg].includes(m[1])) violations.push(`${path.relative(root, file)} imports ${spec}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('has no circular imports between files', () => {
    const graph = new Map<string, string[]>();
    for (const file of files) {
      const deps = importsOf(file)
        .filter((s) => s.startsWith('.'))
        .map((s) => resolveRelative(file, s))
        .filter((d): d is string => d !== null);
      graph.set(file, deps);
    }
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, stack: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        cycles.push([...stack.slice(stack.indexOf(f)), f].map((p) => path.relative(root, p)).join(' -> '));
        return;
      }
      state.set(f, 'visiting');
      for (const d of graph.get(f) ?? []) visit(d, [...stack, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
