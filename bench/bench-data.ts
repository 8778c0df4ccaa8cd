/**
 * Text for the benches: the COVID-QA passages from shared/bench/covidqa/corpus.jsonl when that
 * directory is present (next to the repository), else deterministic synthetic passages with a
 * similar length profile (so the benches run anywhere, with numbers that say which text they used).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@dalm/core';
import type { Passage } from '@dalm/retriever';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where the COVID-QA corpus is expected. */
export const COVIDQA_CORPUS = path.resolve(repoRoot, '../shared/bench/covidqa/corpus.jsonl');

/** Passages and where they came from. */
export interface BenchCorpus {
  passages: Passage[];
  /** 'COVID-QA corpus.jsonl' or 'synthetic'. */
  source: string;
}

const SYNTHETIC_WORDS = (
  'virus infection patients cells protein host immune response viral replication coronavirus respiratory disease ' +
  'cases transmission study data analysis results clinical samples antibody vaccine receptor binding genome ' +
  'sequence strain outbreak symptoms treatment hospital risk model rate expression level control group effect ' +
  'the of and in to a with was were for by that is on from as this at be are these which than after during ' +
  'between higher lower significant increased observed detected reported associated found using shown'
).split(' ');

/** `count` synthetic passages of 40-220 words in 3-10 sentences, Zipf-like word frequencies. */
export function syntheticPassages(count: number, seed = 1): Passage[] {
  const rng = new Rng(seed);
  const word = () => SYNTHETIC_WORDS[Math.floor(SYNTHETIC_WORDS.length * rng.next() ** 2)]!;
  const out: Passage[] = [];
  for (let i = 0; i < count; i++) {
    const sentences: string[] = [];
    const n = 3 + rng.int(8);
    for (let s = 0; s < n; s++) {
      const words = Array.from({ length: 8 + rng.int(15) }, word);
      words[0] = words[0]!.charAt(0).toUpperCase() + words[0]!.slice(1);
      sentences.push(`${words.join(' ')}.`);
    }
    const text = sentences.join(' ');
    out.push({ id: `syn-${i}`, text, source: `syn-${i}`, start: 0, end: text.length });
  }
  return out;
}

/** The COVID-QA passages if present, else `syntheticCount` synthetic ones. */
export async function loadBenchCorpus(syntheticCount = 2719): Promise<BenchCorpus> {
  if (existsSync(COVIDQA_CORPUS)) {
    const lines = (await readFile(COVIDQA_CORPUS, 'utf8')).split('\n');
    const passages: Passage[] = [];
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      const o = JSON.parse(line) as { id?: unknown; title?: unknown; text?: unknown };
      if (typeof o.id !== 'string' || typeof o.text !== 'string')
        throw new Error(`${COVIDQA_CORPUS}:${i + 1}: expected string "id" and "text"`);
      const title = typeof o.title === 'string' ? o.title : undefined;
      passages.push({
        id: o.id,
        text: o.text,
        ...(title !== undefined ? { title } : {}),
        source: o.id,
        start: 0,
        end: o.text.length,
      });
    });
    return { passages, source: `COVID-QA corpus.jsonl (${passages.length} passages)` };
  }
  return {
    passages: syntheticPassages(syntheticCount),
    source: `synthetic (${syntheticCount} passages; ${COVIDQA_CORPUS} not found)`,
  };
}

/** `n` items spread evenly over `xs` (every k-th), so a sample keeps the length profile of the whole. */
export function spread<T>(xs: readonly T[], n: number): T[] {
  if (n >= xs.length) return [...xs];
  return Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)]!);
}
