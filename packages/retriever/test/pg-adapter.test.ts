/**
 * The lazy pg adapter against a real throwaway PostgreSQL 15 server (initdb in a temp dir, a free
 * port on 127.0.0.1, `CREATE EXTENSION vector`). Skips, saying what is missing, without the
 * binaries or pgvector (run scripts/pgvector-setup.sh).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExactIndex, type Passage } from '../src/index';
import { PgDenseIndex } from '../src/pg-index';
import { randomUnitVectors, TableEmbedder } from './stub-embedder';
import { createPool, inTransaction, isPostgresUrl, redactUrl, tableFromUrl } from '../src/pg-adapter';

const BIN = '/usr/lib/postgresql/15/bin';
const missing = !existsSync(path.join(BIN, 'initdb'))
  ? `PostgreSQL 15 binaries not found in ${BIN} (apt-get install postgresql-15)`
  : !existsSync('/usr/share/postgresql/15/extension/vector.control')
    ? 'pgvector is not installed for PostgreSQL 15 (run scripts/pgvector-setup.sh)'
    : null;
if (missing) console.warn(`pg-adapter.test: skipping the server tests: ${missing}`);

const asPostgres = (args: string[]) =>
  (process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', ...args]] : [args[0]!, args.slice(1)]) as [
    string,
    string[],
  ];
const run = (args: string[]) => execFileSync(...asPostgres(args), { stdio: 'pipe' });

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('pg adapter (pure)', () => {
  it('detects URLs, redacts the password, reads ?table=', () => {
    expect(isPostgresUrl('postgres://u@h/db')).toBe(true);
    expect(isPostgresUrl('postgresql://u@h/db')).toBe(true);
    expect(isPostgresUrl('runs/index')).toBe(false);
    expect(redactUrl('postgres://alice:s3cret@h:5432/db?table=x')).not.toContain('s3cret');
    expect(tableFromUrl('postgres://u@h/db?table=my_idx')).toEqual({
      connectionString: 'postgres://u@h/db',
      table: 'my_idx',
    });
    expect(() => tableFromUrl('postgres://u@h/db?table=x;drop')).toThrow(/\?table= must match/);
  });
});

describe.skipIf(missing !== null)('pg adapter against a throwaway server', () => {
  let dir = '';
  let port = 0;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-pg-'));
    if (process.getuid?.() === 0) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), 0);
    port = await freePort();
    run([path.join(BIN, 'initdb'), '-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'postgres']);
    run([
      path.join(BIN, 'pg_ctl'),
      '-D',
      path.join(dir, 'data'),
      '-l',
      path.join(dir, 'log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
      'start',
    ]);
  }, 60_000);
  afterAll(() => {
    if (dir && existsSync(path.join(dir, 'data')))
      run([path.join(BIN, 'pg_ctl'), '-D', path.join(dir, 'data'), '-m', 'immediate', 'stop']);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('creates the vector extension and computes a cosine distance in a transaction', async () => {
    const pool = await createPool(`postgres://postgres@127.0.0.1:${port}/postgres`);
    try {
      const d = await inTransaction(pool, async (c) => {
        await c.query('CREATE EXTENSION IF NOT EXISTS vector');
        return (await c.query(`SELECT ('[1,0]'::vector <=> '[0.6,0.8]'::vector) AS d`)).rows[0].d as number;
      });
      expect(d).toBeCloseTo(1 - 0.6, 6); // cosine distance by hand: 1 - 0.6/1
    } finally {
      await pool.end();
    }
  });

  it('a failed connection error does not contain the password', async () => {
    const url = `postgres://nobody:TopSecret42@127.0.0.1:${port}/no_such_db`;
    const pool = await createPool(url, 1);
    const err = await pool.query('SELECT 1').then(
      () => null,
      (e: Error) => e,
    );
    await pool.end();
    expect(err).not.toBeNull();
    expect(String(err?.message)).not.toContain('TopSecret42');
    expect(redactUrl(url)).not.toContain('TopSecret42');
  });

  it('pgvector dense search equals exact search (same top-10 ids, scores within 1e-5); a changed encoder is refused', async () => {
    const n = 200;
    const dim = 16;
    const vecs = randomUnitVectors(n + 5, dim, 7);
    const emb = new TableEmbedder(dim, 'fp-a');
    const passages: Passage[] = Array.from({ length: n }, (_, i) => ({
      id: `p${i}`,
      text: `text ${i}`,
      source: 'doc',
      start: i,
      end: i + 1,
    }));
    passages.forEach((p, i) => emb.set(p.text, vecs[i]!));
    for (let j = 0; j < 5; j++) emb.set(`q${j}`, vecs[n + j]!);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres?table=t_dense`;
    const pgIdx = await PgDenseIndex.build(url, passages, emb, { M: 16, efConstruction: 200 });
    const exact = await ExactIndex.build(emb, passages, { metric: 'cosine' });
    try {
      for (let j = 0; j < 5; j++) {
        const want = await exact.search(`q${j}`, { k: 10 });
        const got = await pgIdx.search(`q${j}`, { k: 10, efSearch: 200 });
        expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
        got.forEach((h, i) => expect(Math.abs(h.score - want[i]!.score)).toBeLessThan(1e-5));
      }
      const reopened = await PgDenseIndex.open(url, emb);
      expect((await reopened.search('q0', { k: 3 })).map((h) => h.id)).toEqual(
        (await exact.search('q0', { k: 3 })).map((h) => h.id),
      );
      await reopened.close();
      emb.fingerprint = 'fp-b';
      await expect(PgDenseIndex.open(url, emb)).rejects.toThrow(/fingerprint "fp-a".*"fp-b"/);
    } finally {
      exact.dispose();
      await pgIdx.close();
    }
  }, 30_000);
});
