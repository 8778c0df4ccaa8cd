/**
 * What a dense index needs from an encoder. The encoder package implements this; indexes
 * only call it. Queries and passages have separate methods because asymmetric encoders
 * (E5's "query: "/"passage: " prefixes, DPR's two towers) embed them differently.
 */
export interface Embedder {
  /** Length of every vector returned. */
  readonly dim: number;
  /**
   * Identifies the weights (and any pre/post-processing) that produce the vectors, e.g. a hash
   * of the weight files. An index records it and refuses to load with a different one, since
   * vectors from other weights live in another space.
   */
  readonly fingerprint: string;
  /** One vector of length `dim` per query text, in order. */
  embedQueries(texts: string[]): Promise<Float32Array[]>;
  /** One vector of length `dim` per passage text, in order. */
  embedPassages(texts: string[]): Promise<Float32Array[]>;
}
