/**
 * Exports made on first use: where they go, and whether an earlier one can be reused.
 *
 * An export is `<modelDir>/onnx/model.onnx` plus `onnx/dalm-export.json` recording the exporter
 * and the weights' hash, written atomically (other files in onnx/ are kept). It is reused while
 * both match, and redone when the weights change. It goes to the cache directory
 * ($DALM_CACHE_DIR/onnx/<hash>/, default ~/.cache/dalm) instead when the model directory is
 * read-only (by its permission bits, which root would otherwise write through) or already holds a
 * model.onnx the framework did not write, so nothing the framework did not write is replaced.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { atomicWriteDir } from '../atomic';

export const ONNX_EXPORT_DIR = 'onnx';
export const ONNX_EXPORT_MODEL_FILE = 'model.onnx';
export const ONNX_EXPORT_RECORD_FILE = 'dalm-export.json';

/** What `ensureOnnxExport` needs. */
export interface OnnxExportRequest {
  modelDir: string;
  /** Exporter id and version (a new one redoes older exports). */
  exporter: string;
  /** Hash of the weights being exported (weightsHash). */
  weightsSha256: string;
  /** Builds the model bytes; called only when no export can be reused. */
  build: () => Uint8Array;
}

interface ExportRecord {
  exporter: string;
  weightsSha256: string;
}

async function readRecord(dir: string): Promise<ExportRecord | null> {
  try {
    const r = JSON.parse(await fsp.readFile(path.join(dir, ONNX_EXPORT_RECORD_FILE), 'utf8')) as Partial<ExportRecord>;
    return typeof r.exporter === 'string' && typeof r.weightsSha256 === 'string' ? (r as ExportRecord) : null;
  } catch {
    return null;
  }
}

const exists = (p: string) =>
  fsp.access(p).then(
    () => true,
    () => false,
  );

/** Whether the owner may write `dir` (permission bits; root ignores them, the framework does not). */
async function ownerWritable(dir: string): Promise<boolean> {
  try {
    return ((await fsp.stat(dir)).mode & 0o200) !== 0;
  } catch {
    return false;
  }
}

/** The model file of a reusable export, exporting it first when there is none. */
export async function ensureOnnxExport(req: OnnxExportRequest): Promise<{ modelFile: string; exported: boolean }> {
  const cacheRoot = path.join(process.env.DALM_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'dalm'), 'onnx');
  const candidates = [path.join(req.modelDir, ONNX_EXPORT_DIR), path.join(cacheRoot, req.weightsSha256.slice(0, 32))];
  for (const dir of candidates) {
    const rec = await readRecord(dir);
    if (
      rec?.exporter === req.exporter &&
      rec.weightsSha256 === req.weightsSha256 &&
      (await exists(path.join(dir, ONNX_EXPORT_MODEL_FILE)))
    ) {
      return { modelFile: path.join(dir, ONNX_EXPORT_MODEL_FILE), exported: false };
    }
  }
  const bytes = req.build();
  const record = JSON.stringify({ exporter: req.exporter, weightsSha256: req.weightsSha256 }, null, 2) + '\n';
  const errors: string[] = [];
  for (const [i, dir] of candidates.entries()) {
    if (i === 0 && !(await ownerWritable(req.modelDir))) {
      errors.push(`${req.modelDir} is read-only`);
      continue;
    }
    if ((await readRecord(dir)) === null && (await exists(path.join(dir, ONNX_EXPORT_MODEL_FILE)))) {
      errors.push(`${dir} holds a model.onnx not written by dalm`);
      continue;
    }
    try {
      await atomicWriteDir(
        dir,
        async (tmp) => {
          await fsp.writeFile(path.join(tmp, ONNX_EXPORT_MODEL_FILE), bytes);
          await fsp.writeFile(path.join(tmp, ONNX_EXPORT_RECORD_FILE), record);
        },
        { keepOthers: { owned: [ONNX_EXPORT_MODEL_FILE, ONNX_EXPORT_RECORD_FILE] } },
      );
      return { modelFile: path.join(dir, ONNX_EXPORT_MODEL_FILE), exported: true };
    } catch (e) {
      errors.push(`${dir}: ${(e as Error).message}`);
    }
  }
  throw new Error(`ONNX export of ${req.modelDir}: nowhere to write it (${errors.join('; ')})`);
}
