/**
 * `resolveModel(nameOrPath)`: the one place a model name becomes a local directory. A path that
 * exists is returned as is; `org/name[@revision]` is downloaded into (or found in) the standard
 * Hugging Face cache and its snapshot directory returned; `org/name/file.gguf[@revision]` returns
 * the path of that one file. The Hub API (model info for the commit, the file tree) goes through
 * the official `@huggingface/hub` client; the cache layout and file transfer are written here
 * (that client's cache helper does not write `refs/`, names snapshots by each file's last commit,
 * and neither resumes nor verifies downloads).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Progress } from '../../progress';
import {
  existsFollow,
  readRef,
  repoCachePath,
  snapshotPath,
  writeRef,
  linkSnapshotFile,
  blobPath,
} from './cache-layout';
import { downloadToCache, fetchFileMeta, hubHeaders } from './download-file';
import {
  GGUF_PREFERENCE,
  SAFETENSORS_FILE,
  SAFETENSORS_INDEX_FILE,
  selectModelFiles,
  shardFiles,
} from './file-selection';
import { HubError, httpError, isNetworkError, networkReason } from './hub-errors';
import { hubOptionsFromEnv, type HubOptions } from './hub-options';
import { MODEL_ID_FORMS, formatModelId, parseModelId, type ModelId } from './model-id';

/** A file of the repo tree as the Hub's tree API lists it. */
interface TreeFile {
  path: string;
  size: number;
  oid?: string;
  lfs?: { oid: string; size: number };
}

async function pathExists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    () => true,
    () => false,
  );
}

function looksLikePath(s: string): boolean {
  return (
    s === '' || s.startsWith('.') || s.startsWith('/') || s.startsWith('~') || s.includes('\\') || /^[A-Za-z]:/.test(s)
  );
}

/**
 * Returns a local path for a model named by a path or a Hub id: an existing path as given, else the
 * cached snapshot directory of `org/name[@revision]` (downloading what the model needs), or the
 * cached `.gguf` file of `org/name/file.gguf`. Honours HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE,
 * HF_HUB_CACHE / HF_HOME; `options` override them.
 *
 * @example
 * const dir = await resolveModel('sentence-transformers/all-MiniLM-L6-v2'); // ~/.cache/huggingface/hub/models--…/snapshots/<sha>
 * const same = await resolveModel('runs/retriever');                           // 'runs/retriever'
 */
export async function resolveModel(nameOrPath: string, options: Partial<HubOptions> = {}): Promise<string> {
  if (await pathExists(nameOrPath)) return nameOrPath;
  const id = parseModelId(nameOrPath);
  if (!id) {
    throw new Error(
      looksLikePath(nameOrPath)
        ? `${nameOrPath}: no such file or directory`
        : `${JSON.stringify(nameOrPath)} is neither an existing path nor a Hugging Face model id (${MODEL_ID_FORMS})`,
    );
  }
  const opts = hubOptionsFromEnv(options);
  try {
    return await resolveHubModel(id, opts);
  } catch (e) {
    // `runs/retriever` is also a valid Hub id: when it is not found, say that no such local path exists either.
    if (e instanceof HubError && e.kind !== 'integrity' && e.kind !== 'http') {
      throw new HubError(e.kind, `${e.message}; no local path ${nameOrPath} exists either`, e.status);
    }
    throw e;
  }
}

/** Offline: the cache. Online: the Hub, falling back to the cache when the Hub cannot be reached. */
async function resolveHubModel(id: ModelId, opts: HubOptions): Promise<string> {
  if (opts.offline) return resolveFromCache(id, opts, 'HF_HUB_OFFLINE=1');
  try {
    return await downloadModel(id, opts);
  } catch (e) {
    if (!isNetworkError(e)) throw e;
    let cached: string;
    try {
      cached = await resolveFromCache(id, opts, `cannot reach ${opts.endpoint}`);
    } catch (cacheError) {
      throw new HubError(
        'network',
        `${(e as Error).message}; and the cache cannot stand in: ${(cacheError as Error).message}`,
      );
    }
    if (opts.progress)
      process.stderr.write(
        `dalm: cannot reach ${opts.endpoint} (${networkReason(e)}); using the cached ${formatModelId(id)} at ${cached}\n`,
      );
    return cached;
  }
}

/** The cached model of `id`, without network; errors name the missing file. */
export async function resolveFromCache(id: ModelId, opts: HubOptions, reason: string): Promise<string> {
  const repoDir = repoCachePath(opts.cacheDir, id.repo);
  const commit = await readRef(repoDir, id.revision);
  const advice = reason.startsWith('HF_HUB_OFFLINE')
    ? 'unset HF_HUB_OFFLINE to download it'
    : 'download it once online';
  if (!commit) {
    throw new HubError(
      'offline',
      `${reason}: ${formatModelId(id)} is not in the cache ${repoDir} (no refs/${id.revision}); ${advice}`,
    );
  }
  const snap = snapshotPath(repoDir, commit);
  const has = (f: string) => existsFollow(path.join(snap, ...f.split('/')));
  const missing = (f: string) =>
    new HubError(
      'offline',
      `${reason}: ${id.repo}@${id.revision}: ${f} is not in the cache (${path.join(snap, f)}); ${advice}`,
    );
  if (id.file) {
    if (await has(id.file)) return path.join(snap, id.file);
    throw missing(id.file);
  }
  if (await has('adapter_config.json')) {
    if (await has('adapter_model.safetensors')) return snap;
    throw missing('adapter_model.safetensors');
  }
  const ggufs = (await fsp.readdir(snap).catch(() => [] as string[])).filter((f) => f.toLowerCase().endsWith('.gguf'));
  if (!(await has('config.json'))) {
    if (ggufs.length === 1) return path.join(snap, ggufs[0]);
    throw missing('config.json');
  }
  if (await has(SAFETENSORS_INDEX_FILE)) {
    const indexFile = path.join(snap, SAFETENSORS_INDEX_FILE);
    for (const shard of shardFiles(JSON.parse(await fsp.readFile(indexFile, 'utf8')), indexFile)) {
      if (!(await has(shard))) throw missing(shard);
    }
    return snap;
  }
  if (await has(SAFETENSORS_FILE)) return snap;
  if (ggufs.length > 0)
    return path.join(
      snap,
      ggufs.find((f) => GGUF_PREFERENCE.some((k) => f.toLowerCase().endsWith(`${k}.gguf`))) ?? ggufs[0],
    );
  throw missing(SAFETENSORS_FILE);
}

/** Maps an error of the `@huggingface/hub` client (HubApiError with statusCode, or a fetch failure). */
function apiError(e: unknown, what: string, opts: HubOptions): Error {
  if (e instanceof HubError) return e;
  const status = (e as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number') {
    // The Hub's JSON error text (HubApiError.data.error) says which of repo / revision is missing.
    const text = String((e as { data?: { error?: unknown } }).data?.error ?? '');
    const code =
      status === 404 && /revision|rev id/i.test(text)
        ? 'RevisionNotFound'
        : /repository not found/i.test(text)
          ? 'RepositoryNotFound'
          : null;
    return httpError(what, status, code, Boolean(opts.token));
  }
  if (isNetworkError(e)) return new HubError('network', `${what}: cannot reach ${opts.endpoint} (${networkReason(e)})`);
  return e as Error;
}

/** Fetch for the `@huggingface/hub` client: adds the token ourselves (the client insists on an `hf_` prefix, mirrors may not). */
function apiFetch(opts: HubOptions): typeof fetch {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = { ...(init?.headers as Record<string, string> | undefined), ...hubHeaders(opts, url) };
    return opts.fetch(input, { ...init, headers });
  };
}

/** The commit of `id.revision` and the repo's files at that commit, from the Hub API. */
async function repoListing(id: ModelId, opts: HubOptions): Promise<{ commit: string; files: TreeFile[] }> {
  const hub = await import('@huggingface/hub');
  const what = `${id.repo}@${id.revision}`;
  const fetchFn = apiFetch(opts);
  let commit: string;
  try {
    const info = await hub.modelInfo({
      name: id.repo,
      revision: id.revision,
      hubUrl: opts.endpoint,
      fetch: fetchFn,
      additionalFields: ['sha'],
    });
    commit = info.sha;
  } catch (e) {
    throw apiError(e, what, opts);
  }
  if (!/^[0-9a-f]{40}$/.test(commit ?? ''))
    throw new HubError('http', `${what}: the model info API sent no commit sha`);
  const files: TreeFile[] = [];
  try {
    for await (const entry of hub.listFiles({
      repo: { type: 'model', name: id.repo },
      revision: commit,
      recursive: true,
      hubUrl: opts.endpoint,
      fetch: fetchFn,
    })) {
      if (entry.type === 'file') files.push({ path: entry.path, size: entry.size, oid: entry.oid, lfs: entry.lfs });
    }
  } catch (e) {
    throw apiError(e, `${what} (file list)`, opts);
  }
  return { commit, files };
}

/** Downloads what the model needs into the cache; returns the snapshot directory (or the GGUF file). */
async function downloadModel(id: ModelId, opts: HubOptions): Promise<string> {
  const { commit, files } = await repoListing(id, opts);
  const repoDir = repoCachePath(opts.cacheDir, id.repo);
  const snap = snapshotPath(repoDir, commit);
  await fsp.mkdir(snap, { recursive: true });
  await writeRef(repoDir, id.revision, commit);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const selection = selectModelFiles(
    files.map((f) => f.path),
    id.file,
    id.repo,
  );
  const pending: TreeFile[] = [];
  for (const f of selection.files) {
    if (!(await existsFollow(path.join(snap, ...f.split('/'))))) pending.push(byPath.get(f)!);
  }
  await fetchBatch(id, opts, repoDir, commit, pending);
  if (selection.sharded) {
    const indexFile = path.join(snap, SAFETENSORS_INDEX_FILE);
    const shards = shardFiles(JSON.parse(await fsp.readFile(indexFile, 'utf8')), indexFile);
    const todo: TreeFile[] = [];
    for (const s of shards) {
      const entry = byPath.get(s);
      if (!entry)
        throw new HubError(
          'not-found',
          `${id.repo}@${id.revision}: ${SAFETENSORS_INDEX_FILE} names ${s}, which is not in the repo`,
        );
      if (!(await existsFollow(path.join(snap, ...s.split('/'))))) todo.push(entry);
    }
    await fetchBatch(id, opts, repoDir, commit, todo);
  }
  return selection.gguf ? path.join(snap, selection.gguf) : snap;
}

/** Fetches `files` into the cache (a blob already there is only linked), with one byte progress bar. */
async function fetchBatch(
  id: ModelId,
  opts: HubOptions,
  repoDir: string,
  commit: string,
  files: readonly TreeFile[],
): Promise<void> {
  if (files.length === 0) return;
  const total = files.reduce((s, f) => s + (f.lfs?.size ?? f.size), 0);
  const progress = new Progress(`downloading ${id.repo}`, total, { unit: 'bytes', silent: !opts.progress });
  progress.start();
  let done = 0;
  for (const f of files) {
    const known = f.lfs?.oid ?? f.oid;
    if (known && (await existsFollow(blobPath(repoDir, known)))) {
      await linkSnapshotFile(repoDir, commit, f.path, known);
      done += f.lfs?.size ?? f.size;
      continue;
    }
    const meta = await fetchFileMeta(opts, id.repo, commit, f.path);
    await downloadToCache(opts, repoDir, id.repo, f.path, meta, {
      commit,
      sha256: f.lfs?.oid ?? null,
      onBytes: (n) => progress.update((done += n)),
      onRetry: (msg) => {
        if (opts.progress) process.stderr.write(`\n${msg}\n`);
      },
    });
  }
  progress.done(`${files.length} file(s) of ${id.repo}@${commit.slice(0, 10)}`);
}
