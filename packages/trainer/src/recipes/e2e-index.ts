/**
 * The passage side of end-to-end RAG training: a dense index over the corpus plus the passage
 * vectors it holds, kept by id so a batch can gather the vectors of its retrieved passages.
 * In 'frozen' mode it is built once from the starting encoder; in 'reindex' mode the recipe calls
 * `rebuild` every `reindexEvery` steps with the encoder being trained (RAG-end2end's asynchronous
 * re-indexing, done synchronously here).
 *
 * @example
 * const store = await PassageVectorIndex.build(encoder, corpus, { index: 'exact' });
 * const hits = await store.retrieve(encoder, ['what binds ACE2?'], { k: 4 });
 * const v = store.vector(hits[0][0].id); // Float32Array(encoder.dim), as embedded
 */
import { ExactIndex, HnswIndex, type DenseIndex, type Encoder, type Hit, type Passage } from '@dalm/retriever';

/** Which dense index retrieves during training. */
export type PassageIndexKind = 'exact' | 'hnsw';
export const PASSAGE_INDEX_KINDS: readonly PassageIndexKind[] = ['exact', 'hnsw'];

export interface PassageVectorIndexOptions {
  /** 'exact' (brute force; fine up to ~10k passages) or 'hnsw'. */
  index: PassageIndexKind;
  /** Passages per `embedPassages` call. Default 64. */
  batchSize?: number;
}

export interface RetrieveOptions {
  k: number;
  /** HNSW candidate-list size (ignored by the exact index). */
  efSearch?: number;
}

export class PassageVectorIndex {
  private current: DenseIndex;
  private vectors: Map<string, Float32Array>;
  private readonly byId: Map<string, Passage>;
  /** How many times `rebuild` ran. */
  rebuilds = 0;

  private constructor(
    readonly corpus: readonly Passage[],
    private readonly opts: PassageVectorIndexOptions,
    index: DenseIndex,
    vectors: Map<string, Float32Array>,
  ) {
    this.current = index;
    this.vectors = vectors;
    this.byId = new Map(corpus.map((p) => [p.id, p]));
  }

  /** Embeds every passage with `encoder` (passage prefix, no dropout) and indexes the vectors. */
  static async build(
    encoder: Encoder,
    corpus: readonly Passage[],
    opts: PassageVectorIndexOptions,
  ): Promise<PassageVectorIndex> {
    if (corpus.length === 0) throw new Error('PassageVectorIndex: the corpus is empty');
    await encoder.ensureFingerprint(); // the index records it (on webgpu a fresh encoder has none yet)
    const { index, vectors } = await embedAndIndex(encoder, corpus, opts);
    return new PassageVectorIndex(corpus, opts, index, vectors);
  }

  /** The dense index (its fingerprint is the encoder's at the last build). */
  get index(): DenseIndex {
    return this.current;
  }

  get size(): number {
    return this.current.size;
  }

  /** The vector stored for passage `id` (as the encoder returned it, before any normalisation). */
  vector(id: string): Float32Array {
    const v = this.vectors.get(id);
    if (!v) throw new Error(`PassageVectorIndex: no passage with id "${id}"`);
    return v;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** The passage with this id, if the corpus has it. */
  passage(id: string): Passage | undefined {
    return this.byId.get(id);
  }

  /** Re-embeds the whole corpus with `encoder`'s current weights and swaps in a fresh index; returns the milliseconds it took. */
  async rebuild(encoder: Encoder): Promise<number> {
    const t0 = Date.now();
    await encoder.ensureFingerprint(); // the new index records the weights its vectors come from (a no-op unless they changed)
    const { index, vectors } = await embedAndIndex(encoder, this.corpus, this.opts);
    this.current.dispose();
    this.current = index;
    this.vectors = vectors;
    this.rebuilds++;
    return Date.now() - t0;
  }

  /** Top-k passages for each question, embedded by the CURRENT query encoder (inference, no graph). */
  async retrieve(encoder: Encoder, questions: string[], opts: RetrieveOptions): Promise<Hit[][]> {
    const qs = await encoder.embed(questions, { kind: 'query' });
    const out: Hit[][] = [];
    for (const q of qs) out.push(await this.current.search(q, { k: opts.k, efSearch: opts.efSearch }));
    return out;
  }

  dispose(): void {
    this.current.dispose();
    this.vectors.clear();
  }
}

async function embedAndIndex(
  encoder: Encoder,
  corpus: readonly Passage[],
  opts: PassageVectorIndexOptions,
): Promise<{ index: DenseIndex; vectors: Map<string, Float32Array> }> {
  const batchSize = opts.batchSize ?? 64;
  const vecs: Float32Array[] = [];
  for (let i = 0; i < corpus.length; i += batchSize) {
    vecs.push(
      ...(await encoder.embed(
        corpus.slice(i, i + batchSize).map((p) => p.text),
        { kind: 'passage', batchSize },
      )),
    );
  }
  const index: DenseIndex =
    opts.index === 'hnsw'
      ? new HnswIndex(encoder, { metric: 'cosine' }, corpus.length)
      : new ExactIndex(encoder, { metric: 'cosine' });
  index.addEmbedded(corpus, vecs);
  return { index, vectors: new Map(corpus.map((p, i) => [p.id, vecs[i]!])) };
}
