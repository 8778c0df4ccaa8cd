/**
 * A dense index in PostgreSQL + pgvector (first cut): one table of passages with a `vector(d)`
 * column, an HNSW index (vector_cosine_ops / vector_ip_ops, m / ef_construction from the index
 * options) and a `<table>_meta` row with the manifest fields (metric, dim, fingerprint, HNSW
 * parameters, count). Built in one transaction, so readers see the old table or the new one.
 * Search sets `hnsw.ef_search` with SET LOCAL inside a read transaction.
 */
import type { Embedder } from './embedder';
import type { Passage } from './passage';
import type { Hit } from './retrieval';
import { checkK } from './retrieval';
import {
  assertSameEncoder,
  DEFAULT_EF_SEARCH,
  embedPassagesBatched,
  embedQueryChecked,
  EMBED_BATCH_SIZE,
  type Metric,
  type SearchOptions,
} from './dense-index';
import { DEFAULT_HNSW_INDEX_CONFIG, type HnswIndexConfig } from './hnsw-index';
import { createPool, inTransaction, redactUrl, tableFromUrl, type Pool } from './pg-adapter';

const vecLiteral = (v: Float32Array) => `[${Array.from(v).join(',')}]`;
function normalized(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  return v.map((x) => x * inv);
}

/** A pgvector-backed dense retriever over `postgres://…[?table=name]`. */
export class PgDenseIndex {
  private constructor(
    private readonly pool: Pool,
    readonly table: string,
    readonly where: string,
    readonly metric: Metric,
    readonly dim: number,
    readonly fingerprint: string,
    private readonly embedder: Embedder,
  ) {}

  /** Writes `passages` and their vectors to the table (replacing it) in one transaction. */
  static async build(
    url: string,
    passages: readonly Passage[],
    embedder: Embedder,
    config: Partial<HnswIndexConfig> = {},
  ): Promise<PgDenseIndex> {
    const c = { ...DEFAULT_HNSW_INDEX_CONFIG, ...config };
    const { connectionString, table } = tableFromUrl(url);
    const vecs = await embedPassagesBatched(embedder, passages, EMBED_BATCH_SIZE);
    const pool = await createPool(connectionString);
    const ops = c.metric === 'cosine' ? 'vector_cosine_ops' : 'vector_ip_ops';
    try {
      await inTransaction(pool, async (q) => {
        await q.query('CREATE EXTENSION IF NOT EXISTS vector');
        await q.query(`DROP TABLE IF EXISTS ${table}, ${table}_meta`);
        await q.query(`CREATE TABLE ${table} (id text PRIMARY KEY, text text NOT NULL, title text, source text NOT NULL, start_offset int NOT NULL, end_offset int NOT NULL,
          embedding vector(${embedder.dim}) NOT NULL, tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', coalesce(title,'') || ' ' || text)) STORED)`);
        await q.query(
          `CREATE TABLE ${table}_meta (metric text, dim int, encoder_fingerprint text, m int, ef_construction int, count int, created timestamptz DEFAULT now())`,
        );
        for (let i = 0; i < passages.length; i += 500) {
          const rows = passages.slice(i, i + 500);
          const vals: unknown[] = [];
          const tuples = rows.map((p, j) => {
            const v = c.metric === 'cosine' ? normalized(vecs[i + j]!) : vecs[i + j]!;
            vals.push(p.id, p.text, p.title ?? null, p.source, p.start, p.end, vecLiteral(v));
            const b = j * 7;
            return `($${b + 1},$${b + 2},$${b + 3},$${b + 4},$${b + 5},$${b + 6},$${b + 7}::vector)`;
          });
          await q.query(
            `INSERT INTO ${table} (id,text,title,source,start_offset,end_offset,embedding) VALUES ${tuples.join(',')}`,
            vals,
          );
        }
        await q.query(
          `CREATE INDEX ON ${table} USING hnsw (embedding ${ops}) WITH (m = ${c.M}, ef_construction = ${c.efConstruction})`,
        );
        await q.query(`CREATE INDEX ON ${table} USING gin (tsv)`);
        await q.query(
          `INSERT INTO ${table}_meta (metric, dim, encoder_fingerprint, m, ef_construction, count) VALUES ($1,$2,$3,$4,$5,$6)`,
          [c.metric, embedder.dim, embedder.fingerprint, c.M, c.efConstruction, passages.length],
        );
      });
    } catch (e) {
      await pool.end();
      throw new Error(`postgres store ${redactUrl(url)}: ${(e as Error).message}`);
    }
    return new PgDenseIndex(pool, table, redactUrl(url), c.metric, embedder.dim, embedder.fingerprint, embedder);
  }

  /** Opens an existing table; refuses an embedder whose fingerprint or dimension differs. */
  static async open(url: string, embedder: Embedder): Promise<PgDenseIndex> {
    const { connectionString, table } = tableFromUrl(url);
    const pool = await createPool(connectionString);
    try {
      const r = await pool.query(`SELECT metric, dim, encoder_fingerprint FROM ${table}_meta`);
      const m = r.rows[0] as { metric: Metric; dim: number; encoder_fingerprint: string } | undefined;
      if (!m) throw new Error(`no metadata row in ${table}_meta`);
      assertSameEncoder(embedder, m.encoder_fingerprint, `postgres store ${redactUrl(url)}`);
      return new PgDenseIndex(pool, table, redactUrl(url), m.metric, m.dim, m.encoder_fingerprint, embedder);
    } catch (e) {
      await pool.end();
      throw e;
    }
  }

  /** Best `k` passages by pgvector's HNSW search (hnsw.ef_search = max(efSearch, k)). */
  async search(query: string | Float32Array, opts: SearchOptions): Promise<Hit[]> {
    checkK(opts.k, 'PgDenseIndex.search');
    const raw =
      typeof query === 'string' ? (await embedQueryChecked(this.embedder, [query], this.fingerprint))[0]! : query;
    const v = vecLiteral(this.metric === 'cosine' ? normalized(raw) : raw);
    const op = this.metric === 'cosine' ? '<=>' : '<#>';
    const ef = Math.max(opts.efSearch ?? DEFAULT_EF_SEARCH, opts.k);
    const rows = await inTransaction(this.pool, async (q) => {
      await q.query(`SET LOCAL hnsw.ef_search = ${ef}`);
      return (
        await q.query(
          `SELECT id, text, title, source, start_offset, end_offset, embedding ${op} $1::vector AS d FROM ${this.table} ORDER BY embedding ${op} $1::vector LIMIT $2`,
          [v, opts.k],
        )
      ).rows;
    });
    return rows.map((r) => {
      const passage: Passage = { id: r.id, text: r.text, source: r.source, start: r.start_offset, end: r.end_offset };
      if (r.title !== null) passage.title = r.title;
      return { id: r.id as string, score: this.metric === 'cosine' ? 1 - Number(r.d) : -Number(r.d), passage };
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
