/** Atomic file/directory writes and HF model directories. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  atomicWriteDir,
  atomicWriteFile,
  readConfigJson,
  readJsonObject,
  readModelDir,
  writeModelDir,
} from '../src/index';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = path.join(path.resolve(repoRoot, '../shared'), 'fixtures/hf-tiny');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dalm-md-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('atomicWriteFile', () => {
  it('writes text and bytes, creating parents, replacing old content, leaving no temp file', async () => {
    const file = path.join(tmp, 'a/b/c.txt');
    await atomicWriteFile(file, 'first');
    await atomicWriteFile(file, 'second ✓');
    expect(readFileSync(file, 'utf8')).toBe('second ✓');
    await atomicWriteFile(file, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(file)]).toEqual([1, 2, 3]);
    expect(readdirSync(path.dirname(file))).toEqual(['c.txt']);
  });
});

describe('atomicWriteDir', () => {
  it('replaces the directory as a whole', async () => {
    const dir = path.join(tmp, 'swap');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'old.txt'), 'old');
    await atomicWriteDir(dir, async (t) => writeFileSync(path.join(t, 'new.txt'), 'new'));
    expect(readdirSync(dir)).toEqual(['new.txt']);
    expect(readdirSync(tmp).filter((f) => f.startsWith('.swap'))).toEqual([]);
  });

  it('keeps the old directory intact and cleans up when the writer fails', async () => {
    const dir = path.join(tmp, 'keep');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'model.txt'), 'v1');
    await expect(
      atomicWriteDir(dir, async (t) => {
        writeFileSync(path.join(t, 'model.txt'), 'v2 (half written)');
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(readFileSync(path.join(dir, 'model.txt'), 'utf8')).toBe('v1');
    expect(readdirSync(tmp).filter((f) => f.startsWith('.keep'))).toEqual([]);
  });
});

describe('readConfigJson', () => {
  it('names the file when it is missing or malformed', async () => {
    const dir = path.join(tmp, 'cfg');
    mkdirSync(dir);
    const file = path.join(dir, 'config.json');
    await expect(readConfigJson(dir)).rejects.toThrow(`${file}: file not found`);
    writeFileSync(file, '{"hidden_size": 32,');
    await expect(readConfigJson(dir)).rejects.toThrow(`${file}: malformed JSON`);
    writeFileSync(file, '[1, 2]');
    await expect(readConfigJson(dir)).rejects.toThrow(`${file}: expected a JSON object`);
    writeFileSync(file, '{"hidden_size": 32}');
    expect(await readConfigJson(dir)).toEqual({ hidden_size: 32 });
    await expect(readJsonObject(path.join(dir, 'nope.json'))).rejects.toThrow('nope.json: file not found');
  });
});

describe('writeModelDir', () => {
  const tensors = { 'encoder.weight': { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } };

  it('writes config, weights and extra files that read back', async () => {
    const dir = path.join(tmp, 'model');
    await writeModelDir(dir, {
      config: { model_type: 'bert', hidden_size: 2 },
      tensors,
      extraFiles: {
        'tokenizer.json': '{}\n',
        '1_Pooling/config.json': '{"pooling_mode_mean_tokens": true}',
        'blob.bin': new Uint8Array([7]),
      },
    });
    expect(readdirSync(dir).sort()).toEqual([
      '1_Pooling',
      'blob.bin',
      'config.json',
      'model.safetensors',
      'tokenizer.json',
    ]);
    const { config, tensors: back } = await readModelDir(dir);
    expect(config).toEqual({ model_type: 'bert', hidden_size: 2 });
    expect(Array.from(back.get('encoder.weight')!.data)).toEqual([1, 2, 3, 4]);
    expect(readFileSync(path.join(dir, '1_Pooling/config.json'), 'utf8')).toBe('{"pooling_mode_mean_tokens": true}');
  });

  it('keeps the previous model when a write fails, and rejects escaping file names', async () => {
    const dir = path.join(tmp, 'model2');
    await writeModelDir(dir, { config: { v: 1 }, tensors });
    const bad = { w: { shape: [3], data: new Float32Array(2) } };
    await expect(writeModelDir(dir, { config: { v: 2 }, tensors: bad })).rejects.toThrow(/tensor "w"/);
    expect(await readConfigJson(dir)).toEqual({ v: 1 });
    await expect(writeModelDir(dir, { config: { v: 3 }, tensors, extraFiles: { '../evil.txt': 'x' } })).rejects.toThrow(
      /relative path inside/,
    );
    await expect(
      writeModelDir(dir, { config: { v: 3 }, tensors, extraFiles: { 'config.json': '{}' } }),
    ).rejects.toThrow(/would overwrite/);
    expect(existsSync(path.join(tmp, 'evil.txt'))).toBe(false);
    expect(await readConfigJson(dir)).toEqual({ v: 1 });
    expect(readdirSync(tmp).filter((f) => f.startsWith('.model2'))).toEqual([]);
  });

  it.skipIf(!existsSync(fixtures))('copies a fixture model directory faithfully', async () => {
    const src = path.join(fixtures, 'bert-tiny');
    const { config, tensors: t } = await readModelDir(src);
    const dir = path.join(tmp, 'bert-copy');
    await writeModelDir(dir, { config, tensors: t as Map<string, { shape: number[]; data: Float32Array }> });
    // same tensors, and byte-identical safetensors (the fixture is also F32, name-sorted, {"format":"pt"})
    expect((await readModelDir(dir)).tensors).toEqual(t);
    const a = readFileSync(path.join(src, 'model.safetensors'));
    const b = readFileSync(path.join(dir, 'model.safetensors'));
    expect(b.equals(a)).toBe(true);
  });
});
