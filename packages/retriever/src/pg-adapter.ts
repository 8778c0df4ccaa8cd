/**
 * The one place that loads the optional `pg` client (node-postgres), lazily: importing
 * `@dalm/retriever` never pulls it in. Credentials come only from the URL or the standard PG*
 * environment variables (pg reads them itself); `redactUrl` is what any message shows instead.
 */
import type { Pool, PoolClient } from 'pg';

export type { Pool, PoolClient };

/** Whether `s` names a Postgres store (`postgres://` or `postgresql://`) rather than an index directory. */
export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

/** The URL with any password removed (and the query string kept), safe to log. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}

/** The table named by `?table=` (default `dalm_passages`); must be a plain SQL identifier. */
export function tableFromUrl(url: string): { connectionString: string; table: string } {
  const u = new URL(url);
  const table = u.searchParams.get('table') ?? 'dalm_passages';
  if (!/^[a-z_][a-z0-9_]{0,50}$/.test(table))
    throw new Error(
      `postgres store ${redactUrl(url)}: ?table= must match [a-z_][a-z0-9_]* (at most 51 characters), got "${table}"`,
    );
  u.searchParams.delete('table');
  return { connectionString: u.toString(), table };
}

/** A connection pool for `connectionString` (pg loaded on first use). */
export async function createPool(connectionString: string, max = 4): Promise<Pool> {
  let PoolClass: typeof import('pg').Pool;
  try {
    const mod = await import('pg');
    PoolClass = (mod.default ?? mod).Pool;
  } catch {
    throw new Error('postgres store: the optional dependency "pg" is not installed (pnpm add pg)');
  }
  return new PoolClass({ connectionString, max });
}

/** Runs `fn` inside one transaction on a pooled client; rolls back on error. */
export async function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}
