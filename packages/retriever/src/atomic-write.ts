/**
 * Index directories written atomically, through core's atomic writers: a failure part-way (disk
 * full, crash, exception) never leaves a half-written artifact where the old one was. Several
 * artifacts share an index directory (dense + BM25 + passages), so each save keeps the files it
 * does not own.
 */
import { atomicWriteDir, atomicWriteFile } from '@dalm/core';

/** Writes `data` to `file` via a temp file in the same directory and a rename. */
export function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  return atomicWriteFile(file, data);
}

/**
 * Replaces directory `dir` with a freshly written one: `write(tmpDir)` writes this artifact's
 * files (`owned`); the old directory's other files are carried over unchanged.
 */
export function writeDirAtomic(
  dir: string,
  owned: readonly string[],
  write: (tmpDir: string) => Promise<void>,
): Promise<void> {
  return atomicWriteDir(dir, write, { keepOthers: { owned } });
}
