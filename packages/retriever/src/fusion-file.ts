/**
 * `fusion.json` in an index directory: the fusion chosen by `tuneFusion`, used for hybrid search
 * whenever no explicit fusion options are given. Written atomically; read with checks that name
 * the file and the bad field.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '@dalm/core';
import { validateHybridConfig } from './hybrid';
import type { FusionChoice } from './fusion-tuning';

export const FUSION_FILE = 'fusion.json';

/** Writes `choice` to `<dir>/fusion.json` (atomically). */
export async function writeFusionFile(dir: string, choice: FusionChoice): Promise<string> {
  const file = path.join(dir, FUSION_FILE);
  await atomicWriteFile(file, JSON.stringify(choice, null, 2) + '\n');
  return file;
}

/** Reads `<dir>/fusion.json`; null when there is none. */
export async function readFusionFile(dir: string): Promise<FusionChoice | null> {
  const file = path.join(dir, FUSION_FILE);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let o: FusionChoice;
  try {
    o = JSON.parse(text) as FusionChoice;
  } catch {
    throw new Error(`${file}: not valid JSON`);
  }
  if (o?.version !== 1) throw new Error(`${file}: unsupported version ${String(o?.version)} (expected 1)`);
  if (typeof o.hybrid !== 'object' || o.hybrid === null) throw new Error(`${file}: missing "hybrid"`);
  try {
    o.hybrid = validateHybridConfig(o.hybrid);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  return o;
}
