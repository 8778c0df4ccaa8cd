/**
 * Test helpers: a seeded PRNG, random unit vectors, and an embedder whose vectors are known
 * in advance (a lookup table from text to vector), so index results can be checked exactly.
 */
import type { Embedder, Passage } from '../src/index';

/** mulberry32: a small deterministic PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` random unit vectors of length `dim` (Gaussian directions via Box–Muller). */
export function randomUnitVectors(n: number, dim: number, seed: number): Float32Array[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const v = new Float32Array(dim);
    let sq = 0;
    for (let j = 0; j < dim; j++) {
      const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
      v[j] = g;
      sq += g * g;
    }
    const inv = 1 / Math.sqrt(sq);
    for (let j = 0; j < dim; j++) v[j]! *= inv;
    return v;
  });
}

/** An embedder that maps each known text to its table vector (queries and passages alike). */
export class TableEmbedder implements Embedder {
  readonly table = new Map<string, Float32Array>();
  calls = 0;
  constructor(
    readonly dim: number,
    /** Mutable so a test can simulate the encoder's weights changing. */
    public fingerprint: string,
  ) {}
  set(text: string, v: Float32Array): this {
    this.table.set(text, v);
    return this;
  }
  private lookup(texts: string[]): Float32Array[] {
    this.calls++;
    return texts.map((t) => {
      const v = this.table.get(t);
      if (!v) throw new Error(`TableEmbedder: no vector for ${JSON.stringify(t)}`);
      return v;
    });
  }
  async embedQueries(texts: string[]): Promise<Float32Array[]> {
    return this.lookup(texts);
  }
  async embedPassages(texts: string[]): Promise<Float32Array[]> {
    return this.lookup(texts);
  }
}

/** Passages p0…p(n-1) whose text is their id, and an embedder mapping each to vectors[i]. */
export function tableCorpus(
  vectors: Float32Array[],
  fingerprint = 'stub-v1',
  prefix = 'p',
): { passages: Passage[]; embedder: TableEmbedder } {
  const embedder = new TableEmbedder(vectors[0]!.length, fingerprint);
  const passages = vectors.map((v, i) => {
    const id = `${prefix}${i}`;
    embedder.set(id, v);
    return { id, text: id, source: 'random', start: 0, end: id.length };
  });
  return { passages, embedder };
}

/** Dot product. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
