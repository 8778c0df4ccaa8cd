/**
 * Atomic writes of files and directories.
 *
 * A reader (or a crash) never sees a half-written artifact: a file is written
 * to a temporary sibling, flushed, then renamed over the target; a directory is
 * built in a temporary sibling directory, then swapped in.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** A unique suffix for temporary siblings: process id + random bytes. */
function tempSuffix(): string {
  return `${process.pid}-${randomBytes(6).toString('hex')}`;
}

/**
 * Writes a file atomically through a callback that receives an open handle to
 * a temporary sibling file; on success the temp file is flushed and renamed
 * over `filePath`, on failure it is removed and the old file stays intact.
 * Parent directories are created when missing.
 *
 * @example
 * await atomicWriteFileWith('out.bin', async (fh) => { await fh.write(header); await fh.write(body); });
 */
export async function atomicWriteFileWith(
  filePath: string,
  writer: (handle: FileHandle) => Promise<void>,
): Promise<void> {
  const target = path.resolve(filePath);
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${tempSuffix()}`;
  let handle: FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, 'wx');
    await writer(handle);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, target);
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/**
 * Writes `data` (a UTF-8 string or raw bytes) to `filePath` atomically
 * (temp file + fsync + rename).
 *
 * @example
 * await atomicWriteFile('run/config.json', JSON.stringify(cfg, null, 2) + '\n');
 */
export async function atomicWriteFile(filePath: string, data: string | Uint8Array): Promise<void> {
  await atomicWriteFileWith(filePath, async (fh) => {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.byteLength) {
      const { bytesWritten } = await fh.write(bytes, off, bytes.byteLength - off);
      off += bytesWritten;
    }
  });
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

export interface AtomicWriteDirOptions {
  /**
   * Keep the old directory's files whose names are not in `owned` (files the writer is
   * responsible for), so several artifacts can share one directory without erasing each other.
   * Default: the new directory replaces the old one whole.
   */
  keepOthers?: { owned: readonly string[] };
  /** Where messages about an earlier interrupted write go (default: one line on stderr). */
  warn?: (message: string) => void;
}

function warnStderr(message: string): void {
  process.stderr.write(`dalm: warning: ${message}\n`);
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Cleans up after a directory write that was killed part-way (`kill -9`, power loss), and says what
 * it did. Siblings `.NAME.tmp-PID-*` of a dead process are half-written new versions: removed.
 * Siblings `.NAME.old-PID-*` are the previous version, moved aside just before the swap: when `NAME`
 * itself is missing the swap was cut between its two renames, so the newest backup is moved back;
 * when `NAME` exists the swap finished and the backup is removed. Writers still running are left alone.
 *
 * Each action is reported through `warn` (default: one line on stderr).
 *
 * @returns one message per action taken (empty when there was nothing to do).
 */
export async function recoverInterruptedSwap(
  dir: string,
  warn: (message: string) => void = warnStderr,
): Promise<string[]> {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  const base = path.basename(target);
  const entries = await fsp.readdir(parent).catch(() => [] as string[]);
  const stray = (kind: 'tmp' | 'old') =>
    entries
      .filter((e) => e.startsWith(`.${base}.${kind}-`))
      .map((name) => ({ name, pid: Number(name.slice(`.${base}.${kind}-`.length).split('-')[0]) }))
      .filter((s) => !processAlive(s.pid));
  const messages: string[] = [];
  for (const t of stray('tmp')) {
    await fsp.rm(path.join(parent, t.name), { recursive: true, force: true });
    messages.push(`removed ${path.join(parent, t.name)}, left by an interrupted write of ${target}`);
  }
  const backups = stray('old');
  if (backups.length > 0 && !(await exists(target))) {
    const stats = await Promise.all(
      backups.map(async (b) => ({ ...b, mtime: (await fsp.lstat(path.join(parent, b.name))).mtimeMs })),
    );
    stats.sort((a, b) => b.mtime - a.mtime);
    await fsp.rename(path.join(parent, stats[0]!.name), target);
    messages.push(
      `restored ${target} from ${stats[0]!.name}: an earlier write was interrupted before the new version was in place`,
    );
    backups.splice(
      backups.findIndex((b) => b.name === stats[0]!.name),
      1,
    );
  }
  for (const b of backups) {
    await fsp.rm(path.join(parent, b.name), { recursive: true, force: true });
    messages.push(
      `removed ${path.join(parent, b.name)}, the previous version of ${target} left by an interrupted write`,
    );
  }
  for (const m of messages) warn(m);
  return messages;
}

/**
 * Builds a directory atomically: `writer` fills a fresh temporary sibling
 * directory, which then replaces `dir` as a whole (files of an older `dir`
 * that the writer did not write are gone afterwards).
 *
 * If `writer` throws, the temporary directory is removed and an existing
 * `dir` is left untouched. The swap is two renames (old → backup, new → dir)
 * because POSIX cannot rename a directory over a non-empty one; if the second
 * rename fails the backup is moved back.
 *
 * @example
 * await atomicWriteDir('runs/model', async (tmp) => {
 *   await fs.promises.writeFile(path.join(tmp, 'config.json'), '{}');
 * });
 */
export async function atomicWriteDir(
  dir: string,
  writer: (tmpDir: string) => Promise<void>,
  opts: AtomicWriteDirOptions = {},
): Promise<void> {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  await fsp.mkdir(parent, { recursive: true });
  await recoverInterruptedSwap(target, opts.warn);
  const suffix = tempSuffix();
  const tmp = path.join(parent, `.${path.basename(target)}.tmp-${suffix}`);
  await fsp.mkdir(tmp);
  try {
    await writer(tmp);
    if (opts.keepOthers) {
      // Carry over files of the old directory that this writer does not own (e.g. a BM25 index beside a dense one).
      const owned = new Set(opts.keepOthers.owned);
      const old = await fsp.readdir(target, { withFileTypes: true }).catch(() => []);
      for (const entry of old) {
        // Files and sub-folders alike (a user's notes beside an index are theirs, not ours to drop).
        if (!owned.has(entry.name))
          await fsp.cp(path.join(target, entry.name), path.join(tmp, entry.name), {
            recursive: true,
            verbatimSymlinks: true,
          });
      }
    }
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  const backup = path.join(parent, `.${path.basename(target)}.old-${suffix}`);
  const hadOld = await exists(target);
  try {
    if (hadOld) await fsp.rename(target, backup);
    try {
      await fsp.rename(tmp, target);
    } catch (err) {
      if (hadOld) await fsp.rename(backup, target);
      throw err;
    }
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  if (hadOld) await fsp.rm(backup, { recursive: true, force: true });
}
