/**
 * The Hugging Face cache layout, byte for byte what Python's `huggingface_hub` writes and reads:
 *
 *     <cache>/models--org--name/
 *       blobs/<etag>                      file contents, named by sha256 (LFS) or git sha1 (small files)
 *       refs/<revision>                   the commit sha the revision pointed to (no newline)
 *       snapshots/<commit>/<path>         relative symlink to ../../blobs/<etag>
 *
 * so a model Python downloaded loads here without a download, and the other way round.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '../atomic';
import { isCommitSha } from './model-id';

/** `models--org--name` (huggingface_hub's repo_folder_name). */
export function repoFolderName(repo: string): string {
  return ['models', ...repo.split('/')].join('--');
}

/** `<cacheDir>/models--org--name`. */
export function repoCachePath(cacheDir: string, repo: string): string {
  return path.join(cacheDir, repoFolderName(repo));
}

/** `<repoDir>/snapshots/<commit>`. */
export function snapshotPath(repoDir: string, commit: string): string {
  return path.join(repoDir, 'snapshots', commit);
}

/** `<repoDir>/blobs/<etag>`. */
export function blobPath(repoDir: string, etag: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(etag))
    throw new Error(`hub cache: etag ${JSON.stringify(etag)} is not a valid blob name`);
  return path.join(repoDir, 'blobs', etag);
}

/** The commit a revision points to in the cache: itself when it is a sha, else the content of `refs/<revision>`, else null. */
export async function readRef(repoDir: string, revision: string): Promise<string | null> {
  if (isCommitSha(revision)) return revision;
  try {
    const sha = (await fsp.readFile(path.join(repoDir, 'refs', revision), 'utf8')).trim();
    return isCommitSha(sha) ? sha : null;
  } catch {
    return null;
  }
}

/** Records that `revision` points to `commit` (Python reads the file without stripping: no newline). */
export async function writeRef(repoDir: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const file = path.join(repoDir, 'refs', revision);
  const old = await fsp.readFile(file, 'utf8').catch(() => null);
  if (old !== commit) await atomicWriteFile(file, commit);
}

/** Whether `p` exists, following symlinks (a dangling snapshot link counts as missing). */
export async function existsFollow(p: string): Promise<boolean> {
  try {
    await fsp.stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Points `snapshots/<commit>/<file>` at `blobs/<etag>` with a relative symlink, as huggingface_hub
 * does (`os.path.relpath(blob, dirname(pointer))`); where symlinks are not allowed the blob is copied.
 */
export async function linkSnapshotFile(repoDir: string, commit: string, file: string, etag: string): Promise<string> {
  const pointer = path.join(snapshotPath(repoDir, commit), ...file.split('/'));
  const blob = blobPath(repoDir, etag);
  await fsp.mkdir(path.dirname(pointer), { recursive: true });
  await fsp.rm(pointer, { force: true });
  try {
    await fsp.symlink(path.relative(path.dirname(pointer), blob), pointer);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP') throw e;
    await fsp.copyFile(blob, pointer);
  }
  return pointer;
}

/**
 * The cached path of `file` of `repo` at `revision`, or null: the equivalent of Python's
 * `huggingface_hub.try_to_load_from_cache`, without network.
 *
 * @example await cachedFile(hubCacheDir(), 'BAAI/bge-small-en-v1.5', 'config.json');
 */
export async function cachedFile(
  cacheDir: string,
  repo: string,
  file: string,
  revision = 'main',
): Promise<string | null> {
  const repoDir = repoCachePath(cacheDir, repo);
  const commit = await readRef(repoDir, revision);
  if (!commit) return null;
  const p = path.join(snapshotPath(repoDir, commit), ...file.split('/'));
  return (await existsFollow(p)) ? p : null;
}
