/**
 * Training checkpoints: `runDir/checkpoints/step-000120/` holding one `<group>.safetensors` per
 * parameter group (HF tensor names, so a checkpoint's weights load like a model), the optimizer's
 * moments in `optimizer.safetensors`, and `trainer_state.json` (step, seed, config). Each checkpoint
 * directory is written atomically; older ones beyond `keep` are removed after the new one exists.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { atomicWriteDir, readSafetensors, writeSafetensors, type ParamStore } from '@dalm/core';
import type { AdamW } from '../optim/adamw';

export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  /** Seed of the data order. */
  seed: number;
  batchSize: number;
  gradAccumulation: number;
  /** Hashes of what the run trained on (data, tokenizer, recipe and optimizer settings); checked on resume. */
  inputs?: Record<string, string>;
  /** Free-form recipe state (e.g. when the index was last rebuilt). */
  extra?: Record<string, unknown>;
}

const CHECKPOINTS = 'checkpoints';

export function checkpointDir(runDir: string, step: number): string {
  return path.join(runDir, CHECKPOINTS, `step-${String(step).padStart(6, '0')}`);
}

export async function saveCheckpoint(
  runDir: string,
  groups: Record<string, ParamStore>,
  optimizer: AdamW,
  state: TrainerState,
  keep: number,
): Promise<string> {
  const dir = checkpointDir(runDir, state.step);
  await atomicWriteDir(dir, async (tmp) => {
    for (const [name, store] of Object.entries(groups)) {
      await writeSafetensors(path.join(tmp, `${name}.safetensors`), await store.toHostAsync(), { format: 'pt' });
    }
    await writeSafetensors(path.join(tmp, 'optimizer.safetensors'), await optimizer.stateToHost(), {
      step: String(optimizer.step),
    });
    await fsp.writeFile(path.join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 2) + '\n');
  });
  const all = await listCheckpoints(runDir);
  for (const old of all.slice(0, Math.max(0, all.length - keep)))
    await fsp.rm(old.dir, { recursive: true, force: true });
  return dir;
}

/** Complete checkpoints in step order (a directory without trainer_state.json is ignored). */
export async function listCheckpoints(runDir: string): Promise<{ step: number; dir: string }[]> {
  const root = path.join(runDir, CHECKPOINTS);
  let names: string[];
  try {
    names = await fsp.readdir(root);
  } catch {
    return [];
  }
  const out: { step: number; dir: string }[] = [];
  for (const n of names) {
    const m = /^step-(\d+)$/.exec(n);
    if (!m) continue;
    const dir = path.join(root, n);
    try {
      await fsp.access(path.join(dir, 'trainer_state.json'));
      out.push({ step: Number(m[1]), dir });
    } catch {
      /* incomplete: skip */
    }
  }
  return out.sort((a, b) => a.step - b.step);
}

/** Restores parameters and optimizer state from a checkpoint directory; returns its trainer state. */
export async function loadCheckpoint(
  dir: string,
  groups: Record<string, ParamStore>,
  optimizer: AdamW,
): Promise<TrainerState> {
  const statePath = path.join(dir, 'trainer_state.json');
  let state: TrainerState;
  try {
    state = JSON.parse(await fsp.readFile(statePath, 'utf8')) as TrainerState;
  } catch (e) {
    throw new Error(`checkpoint ${statePath}: cannot read trainer state (${(e as Error).message})`);
  }
  for (const [name, store] of Object.entries(groups)) {
    const file = path.join(dir, `${name}.safetensors`);
    store.loadHost(await readSafetensors(file), { source: file });
  }
  optimizer.loadState(await readSafetensors(path.join(dir, 'optimizer.safetensors')), state.step);
  return state;
}
