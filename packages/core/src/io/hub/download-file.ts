/**
 * One file from the Hub into the cache, the way huggingface_hub's `hf_hub_download` does it:
 * a HEAD on `/{repo}/resolve/{revision}/{file}` gives the commit (X-Repo-Commit), the blob name
 * (X-Linked-Etag for LFS files = their sha256, else ETag = the git sha1) and the size
 * (X-Linked-Size); a GET streams the bytes into `blobs/<etag>.incomplete`, resumed with an HTTP
 * Range request after a dropped connection (also from an earlier process); LFS files are checked
 * against their sha256 before the blob is renamed into place and linked from the snapshot.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { blobPath, existsFollow, linkSnapshotFile } from './cache-layout';
import { HubError, httpError, isNetworkError, networkReason } from './hub-errors';
import type { HubOptions } from './hub-options';

/** What a HEAD on the resolve URL says about a file. */
export interface HubFileMeta {
  /** The commit the revision resolved to (X-Repo-Commit), when the server says. */
  commit: string | null;
  /** Blob name: X-Linked-Etag (LFS: sha256) or ETag (git sha1), quotes removed. */
  etag: string;
  /** Bytes (X-Linked-Size or Content-Length), when known. */
  size: number | null;
  /** Where the bytes are (the CDN URL of an LFS file, else the resolve URL). */
  url: string;
}

/** The resolve URL of a file. */
export function resolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** Request headers for `url`: the token goes only to the endpoint's own origin (never to a CDN). */
export function hubHeaders(opts: HubOptions, url: string, extra: Record<string, string> = {}): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': 'dalm-ts', ...extra };
  if (opts.token && new URL(url).origin === new URL(opts.endpoint).origin)
    headers.authorization = `Bearer ${opts.token}`;
  return headers;
}

function normalizeEtag(v: string | null): string | null {
  if (!v) return null;
  return v.replace(/^W\//, '').replace(/^"|"$/g, '') || null;
}

/**
 * HEAD on the resolve URL. Redirects within the endpoint's origin (renamed repos) are followed; one
 * to another origin (the CDN) is not: its response carries the metadata, its Location the bytes.
 */
export async function fetchFileMeta(
  opts: HubOptions,
  repo: string,
  revision: string,
  file: string,
): Promise<HubFileMeta> {
  const what = `${repo}@${revision}: ${file}`;
  let url = resolveUrl(opts.endpoint, repo, revision, file);
  for (let hop = 0; hop < 10; hop++) {
    let res: Response;
    try {
      res = await opts.fetch(url, {
        method: 'HEAD',
        redirect: 'manual',
        headers: hubHeaders(opts, url, { 'accept-encoding': 'identity' }),
      });
    } catch (e) {
      throw new HubError('network', `${what}: cannot reach ${opts.endpoint} (${networkReason(e)})`);
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location && new URL(location, url).origin === new URL(url).origin) {
      url = new URL(location, url).href;
      continue;
    }
    if (res.status >= 400) throw httpError(what, res.status, res.headers.get('x-error-code'), Boolean(opts.token));
    const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
    if (!etag)
      throw new HubError('http', `${what}: the server sent no ETag; is ${opts.endpoint} a Hugging Face Hub endpoint?`);
    const sizeHeader = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
    const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : null;
    const target = res.status >= 300 && location ? new URL(location, url).href : url;
    return { commit: res.headers.get('x-repo-commit'), etag, size, url: target };
  }
  throw new HubError('http', `${what}: too many redirects`);
}

/** sha256 of a file, hex. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function fileSize(p: string): Promise<number> {
  return fsp
    .stat(p)
    .then((s) => s.size)
    .catch(() => 0);
}

export interface DownloadFileOptions {
  /** The commit the snapshot link goes under. */
  commit: string;
  /** Expected sha256 (from the tree API's lfs.oid); default: the etag when it is one (LFS). */
  sha256?: string | null;
  /** Called with each chunk's byte count (progress). */
  onBytes?: (n: number) => void;
  /** Called when a dropped connection is resumed. */
  onRetry?: (message: string) => void;
}

/**
 * Downloads `file` (described by `meta`) into `blobs/<etag>` and links `snapshots/<commit>/<file>`.
 * Returns the snapshot path. A leftover `.incomplete` is resumed; a sha256 mismatch discards the
 * download and throws, leaving nothing in blobs or snapshots.
 */
export async function downloadToCache(
  opts: HubOptions,
  repoDir: string,
  repo: string,
  file: string,
  meta: HubFileMeta,
  o: DownloadFileOptions,
): Promise<string> {
  const blob = blobPath(repoDir, meta.etag);
  if (await existsFollow(blob)) return linkSnapshotFile(repoDir, o.commit, file, meta.etag);
  // One writer per blob (another process or call may be fetching it): `.locks/models--org--name/<etag>.dalm.lock`.
  const lock = path.join(path.dirname(repoDir), '.locks', path.basename(repoDir), `${meta.etag}.dalm.lock`);
  if ((await acquireLock(lock, blob)) === 'done') return linkSnapshotFile(repoDir, o.commit, file, meta.etag);
  try {
    await fetchBlob(opts, repoDir, repo, file, meta, o);
  } finally {
    await fsp.rm(lock, { force: true });
  }
  return linkSnapshotFile(repoDir, o.commit, file, meta.etag);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the blob's lock file (created exclusively, holding our pid), or waits while a live holder
 * fetches it: 'done' when the blob appeared meanwhile. A lock whose process is gone is taken over.
 */
async function acquireLock(lock: string, blob: string): Promise<'locked' | 'done'> {
  await fsp.mkdir(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      const fh = await fsp.open(lock, 'wx');
      await fh.writeFile(`${process.pid}:${Math.random().toString(36).slice(2)}`);
      await fh.close();
      if (await existsFollow(blob)) {
        await fsp.rm(lock, { force: true });
        return 'done';
      }
      return 'locked';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number((await fsp.readFile(lock, 'utf8').catch(() => '')).split(':')[0]);
    if (Number.isInteger(holder) && holder > 0 && !processAlive(holder)) {
      await fsp.rm(lock, { force: true });
      continue;
    }
    await sleep(100);
    if (await existsFollow(blob)) return 'done';
  }
}

/** The transfer itself, under the lock: `.incomplete` (resumed), size and sha256 checks, rename into `blobs/`. */
async function fetchBlob(
  opts: HubOptions,
  repoDir: string,
  repo: string,
  file: string,
  meta: HubFileMeta,
  o: DownloadFileOptions,
): Promise<void> {
  const what = `${repo}@${o.commit}: ${file}`;
  const blob = blobPath(repoDir, meta.etag);
  await fsp.mkdir(path.join(repoDir, 'blobs'), { recursive: true });
  const incomplete = `${blob}.incomplete`;
  let lastError: unknown = null;
  for (let attempt = 1; attempt <= opts.maxAttempts; attempt++) {
    let offset = await fileSize(incomplete);
    if (meta.size !== null && offset > meta.size) {
      await fsp.rm(incomplete, { force: true });
      offset = 0;
    }
    if (meta.size !== null && offset === meta.size && offset > 0) {
      lastError = null; // all bytes are there (e.g. the connection dropped after the last one)
      break;
    }
    const headers = hubHeaders(
      opts,
      meta.url,
      offset > 0 ? { range: `bytes=${offset}-`, 'accept-encoding': 'identity' } : { 'accept-encoding': 'identity' },
    );
    let res: Response;
    try {
      res = await opts.fetch(meta.url, { headers, redirect: 'follow' });
    } catch (e) {
      lastError = new HubError('network', `${what}: cannot reach ${opts.endpoint} (${networkReason(e)})`);
      if (attempt < opts.maxAttempts) continue;
      throw lastError;
    }
    if (res.status === 416 && offset > 0) {
      // Range past the end: the partial file is not a prefix of this blob; start over.
      await res.body?.cancel();
      await fsp.rm(incomplete, { force: true });
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      const err = httpError(what, res.status, res.headers.get('x-error-code'), Boolean(opts.token));
      if (res.status >= 500 && attempt < opts.maxAttempts) {
        lastError = err;
        continue;
      }
      throw err;
    }
    if (offset > 0 && res.status !== 206) offset = 0; // the server ignored the Range: rewrite from the start
    if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
      if (start !== undefined && Number(start) !== offset) {
        await res.body?.cancel();
        throw new HubError('http', `${what}: asked for bytes from ${offset}, the server sent from ${start}`);
      }
    }
    const fh = await fsp.open(incomplete, offset > 0 ? 'a' : 'w');
    try {
      if (!res.body) throw new HubError('http', `${what}: empty response body`);
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        await fh.write(chunk);
        o.onBytes?.(chunk.byteLength);
      }
      lastError = null;
    } catch (e) {
      if (!isNetworkError(e)) throw e;
      lastError = e;
      const have = await fh.stat().then(
        (s) => s.size,
        () => offset,
      );
      if (attempt < opts.maxAttempts)
        o.onRetry?.(
          `${what}: connection dropped (${networkReason(e)}) after ${have} bytes; resuming (attempt ${attempt + 1}/${opts.maxAttempts})`,
        );
    } finally {
      await fh.close();
    }
    if (lastError === null) break;
  }
  if (lastError !== null) {
    throw new HubError(
      'network',
      `${what}: download failed after ${opts.maxAttempts} attempts (${networkReason(lastError)}); the partial file ${incomplete} resumes next time`,
    );
  }
  const size = await fileSize(incomplete);
  if (meta.size !== null && size !== meta.size) {
    await fsp.rm(incomplete, { force: true });
    throw new HubError(
      'integrity',
      `${what}: got ${size} bytes, the server announced ${meta.size}; the download was discarded`,
    );
  }
  const expected = o.sha256 ?? (/^[0-9a-f]{64}$/.test(meta.etag) ? meta.etag : null);
  if (expected) {
    const got = await sha256File(incomplete);
    if (got !== expected) {
      await fsp.rm(incomplete, { force: true });
      throw new HubError(
        'integrity',
        `${what}: sha256 mismatch (expected ${expected}, got ${got}); the download was discarded, nothing was written to the cache`,
      );
    }
  }
  await fsp.rename(incomplete, blob);
}
