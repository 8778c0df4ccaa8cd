/**
 * Atomic writes of files and of whole index directories: everything is written under a
 * temporary name first and only renamed into place once complete, so a failure part-way
 * (disk full, crash, exception) never leaves a half-written artifact where the old one was.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

function tempSibling(target: string, tag: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

/** Writes `data` to `file` via a temp file in the same directory and a rename. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = tempSibling(path.resolve(file), 'tmp');
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Replaces directory `dir` with a freshly written one.
 *
 * `write(tmpDir)` writes this artifact's files into an empty temp directory next to `dir`.
 * Files already in `dir` whose names are not in `owned` (e.g. `bm25.json` beside a dense
 * index) are carried over unchanged, so indexes that share a directory do not erase each other.
 * Then the old directory is renamed aside, the new one renamed into place, and the old one
 * deleted. If `write` throws, the temp directory is removed and `dir` is left untouched.
 */
export async function writeDirAtomic(
  dir: string,
  owned: readonly string[],
  write: (tmpDir: string) => Promise<void>,
): Promise<void> {
  const target = path.resolve(dir);
  await mkdir(path.dirname(target), { recursive: true });
  const exists = await isDirectory(target);
  const tmp = tempSibling(target, 'tmp');
  await mkdir(tmp);
  try {
    await write(tmp);
    if (exists) {
      const ownedSet = new Set(owned);
      for (const entry of await readdir(target, { withFileTypes: true })) {
        if (entry.isFile() && !ownedSet.has(entry.name)) {
          await copyFile(path.join(target, entry.name), path.join(tmp, entry.name));
        }
      }
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  if (!exists) {
    await rename(tmp, target);
    return;
  }
  // A directory cannot be renamed over a non-empty one: swap in two renames.
  const old = tempSibling(target, 'old');
  await rename(target, old);
  try {
    await rename(tmp, target);
  } catch (e) {
    await rename(old, target); // put the old index back
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await rm(old, { recursive: true, force: true });
}
