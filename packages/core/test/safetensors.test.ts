/** safetensors: round trip, 16-bit float decoding on hand-made bit patterns, untrusted-input errors, HF fixtures. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import {
  MAX_SAFETENSORS_HEADER_BYTES,
  bf16BitsToFloat,
  fromTfTensor,
  halfBitsToFloat,
  parseSafetensors,
  readConfigJson,
  readSafetensors,
  readSafetensorsWithMetadata,
  serializeSafetensors,
  toTfTensor,
  toTfTensors,
  writeSafetensors,
} from '../src/index';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const shared = path.resolve(repoRoot, '../shared');
const fixtures = path.join(shared, 'fixtures/hf-tiny');

let tmp: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dalm-st-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Builds a safetensors buffer from a raw header object and a data section. */
function rawFile(header: unknown, data: Uint8Array, headerLenOverride?: bigint): Uint8Array {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLenOverride ?? BigInt(h.length));
  return Buffer.concat([prefix, h, data]);
}

function u16le(values: number[]): Uint8Array {
  const b = Buffer.alloc(2 * values.length);
  values.forEach((v, i) => b.writeUInt16LE(v, 2 * i));
  return b;
}

describe('writeSafetensors / readSafetensors', () => {
  it('round-trips float32 and int32 tensors bit-exactly, with a sorted, 8-aligned header', async () => {
    const file = path.join(tmp, 'rt.safetensors');
    const w = new Float32Array([1.5, -2.25, 3.4028234663852886e38, 1e-45, -0, 0.1]);
    const tensors = {
      'b.weight': { shape: [2, 3], data: w },
      'a.bias': { shape: [3], data: new Float32Array([7, 8, 9]) },
      'c.ids': { shape: [2], data: new Int32Array([-5, 2147483647]) },
      'd.empty': { shape: [0, 4], data: new Float32Array(0) },
    };
    await writeSafetensors(file, tensors, { format: 'pt', note: 'x' });
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    expect(Object.keys(header)).toEqual(['__metadata__', 'a.bias', 'b.weight', 'c.ids', 'd.empty']);
    expect(header['a.bias']).toEqual({ dtype: 'F32', shape: [3], data_offsets: [0, 12] });
    expect(header['b.weight'].data_offsets).toEqual([12, 36]);
    expect(header['c.ids']).toEqual({ dtype: 'I32', shape: [2], data_offsets: [36, 44] });
    expect(header['d.empty'].data_offsets).toEqual([44, 44]);
    expect(bytes.length).toBe(8 + n + 44);

    const { tensors: back, metadata } = await readSafetensorsWithMetadata(file);
    expect(metadata).toEqual({ format: 'pt', note: 'x' });
    expect([...back.keys()]).toEqual(['a.bias', 'b.weight', 'c.ids', 'd.empty']);
    const bw = back.get('b.weight')!;
    expect(bw.dtype).toBe('F32');
    expect(bw.shape).toEqual([2, 3]);
    expect(new Uint32Array(bw.data.buffer)).toEqual(new Uint32Array(w.buffer)); // bit-exact, -0 kept
    expect(Array.from(back.get('c.ids')!.data)).toEqual([-5, 2147483647]);
    expect(back.get('d.empty')!.data.length).toBe(0);
    // the in-memory parser agrees with the file reader
    expect(parseSafetensors(serializeSafetensors(tensors, { format: 'pt', note: 'x' }), 'mem')).toEqual(back);
    // no temp files left behind
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('rejects bad tensors to write, naming them', async () => {
    await expect(
      writeSafetensors(path.join(tmp, 'x.safetensors'), { w: { shape: [2, 2], data: new Float32Array(3) } }),
    ).rejects.toThrow(/tensor "w": shape \[2,2\] holds 4 values but data has 3/);
  });
});

describe('16-bit float decoding', () => {
  it('decodes IEEE half bit patterns', () => {
    expect(halfBitsToFloat(0x3c00)).toBe(1);
    expect(halfBitsToFloat(0xc000)).toBe(-2);
    expect(halfBitsToFloat(0x7bff)).toBe(65504); // largest normal
    expect(halfBitsToFloat(0x0400)).toBe(2 ** -14); // smallest normal
    expect(halfBitsToFloat(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(halfBitsToFloat(0x3555)).toBe(0.333251953125); // 1/3 rounded: (1 + 341/1024) / 4
    expect(halfBitsToFloat(0x7c00)).toBe(Infinity);
    expect(halfBitsToFloat(0xfc00)).toBe(-Infinity);
    expect(halfBitsToFloat(0x7e00)).toBeNaN();
    expect(Object.is(halfBitsToFloat(0x8000), -0)).toBe(true);
  });

  it('decodes bfloat16 bit patterns', () => {
    expect(bf16BitsToFloat(0x3f80)).toBe(1);
    expect(bf16BitsToFloat(0xc049)).toBe(-3.140625); // -(1 + 73/128) * 2
    expect(bf16BitsToFloat(0x4120)).toBe(10);
    expect(bf16BitsToFloat(0x7f80)).toBe(Infinity);
    expect(bf16BitsToFloat(0x0001)).toBe(2 ** -133); // smallest subnormal
  });

  it('reads F16, BF16 and I64 tensors from a file', () => {
    const data = Buffer.concat([
      u16le([0x3c00, 0xc000, 0x3555]),
      u16le([0x3f80, 0xc049]),
      Buffer.from(new BigInt64Array([-1n, 2147483647n, -2147483648n]).buffer),
    ]);
    const buf = rawFile(
      {
        h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
        b: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] },
        i: { dtype: 'I64', shape: [3], data_offsets: [10, 34] },
      },
      data,
    );
    const t = parseSafetensors(buf, 'mixed.safetensors');
    expect(t.get('h')!.data).toEqual(new Float32Array([1, -2, 0.333251953125]));
    expect(t.get('b')!.data).toEqual(new Float32Array([1, -3.140625]));
    expect(t.get('i')!.data).toEqual(new Int32Array([-1, 2147483647, -2147483648]));
    expect(t.get('i')!.dtype).toBe('I64');
  });
});

describe('untrusted input', () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = new Uint8Array(8);

  it('rejects truncated files', async () => {
    expect(() => parseSafetensors(new Uint8Array(5), 'tiny.safetensors')).toThrow(
      /tiny\.safetensors: truncated.*5 bytes/,
    );
    const full = rawFile(ok, eight);
    expect(() => parseSafetensors(full.subarray(0, 20), 'cut.safetensors')).toThrow(
      /cut\.safetensors: truncated safetensors file: header length/,
    );
    // cut inside the data section: the tensor now lies outside it
    expect(() => parseSafetensors(full.subarray(0, full.length - 3), 'cut2.safetensors')).toThrow(
      /cut2\.safetensors: tensor "w": data_offsets \[0, 8\] lie outside the 5-byte data section/,
    );
    const file = path.join(tmp, 'trunc.safetensors');
    writeFileSync(file, full.subarray(0, full.length - 1));
    await expect(readSafetensors(file)).rejects.toThrow(
      `${file}: tensor "w": data_offsets [0, 8] lie outside the 7-byte data section`,
    );
  });

  it('rejects an oversized header length before allocating it', () => {
    expect(() =>
      parseSafetensors(rawFile(ok, eight, BigInt(MAX_SAFETENSORS_HEADER_BYTES + 1)), 'big.safetensors'),
    ).toThrow(/big\.safetensors: safetensors header length 100000001 exceeds the limit/);
    expect(() => parseSafetensors(rawFile(ok, eight, 2n ** 63n), 'huge.safetensors')).toThrow(/exceeds the limit/);
  });

  it('rejects malformed JSON, unknown dtypes and shape/size mismatches', () => {
    const badJson = Buffer.concat([Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"w": [1,')]);
    expect(() => parseSafetensors(badJson, 'j.safetensors')).toThrow(
      /j\.safetensors: safetensors header is not valid JSON/,
    );
    expect(() =>
      parseSafetensors(rawFile({ w: { dtype: 'F8', shape: [8], data_offsets: [0, 8] } }, eight), 'd.safetensors'),
    ).toThrow(/d\.safetensors: tensor "w": unsupported dtype "F8"/);
    expect(() =>
      parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight), 's.safetensors'),
    ).toThrow(
      /s\.safetensors: tensor "w": shape \[3\] x F32 \(4 bytes\) = 12 bytes, but data_offsets \[0, 8\] span 8 bytes/,
    );
    expect(() =>
      parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, eight), 'n.safetensors'),
    ).toThrow(/tensor "w": shape must be an array of non-negative integers/);
  });

  it('rejects bad offsets: outside, overlapping, gaps, trailing bytes', () => {
    const two = (a: number[], b: number[]) => ({
      a: { dtype: 'F32', shape: [1], data_offsets: a },
      b: { dtype: 'F32', shape: [1], data_offsets: b },
    });
    expect(() =>
      parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, eight), 'o.safetensors'),
    ).toThrow(/o\.safetensors: tensor "w": data_offsets \[4, 12\] lie outside the 8-byte data section/);
    expect(() =>
      parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, eight), 'r.safetensors'),
    ).toThrow(/tensor "w": data_offsets must be \[begin, end\]/);
    expect(() => parseSafetensors(rawFile(two([0, 4], [0, 4]), eight), 'ov.safetensors')).toThrow(
      /ov\.safetensors: tensor "b" .* overlaps/,
    );
    expect(() => parseSafetensors(rawFile(two([0, 4], [8, 12]), new Uint8Array(12)), 'gap.safetensors')).toThrow(
      /gap\.safetensors: gap of 4 unused bytes before tensor "b"/,
    );
    expect(() => parseSafetensors(rawFile({ w: ok.w }, new Uint8Array(12)), 't.safetensors')).toThrow(
      /t\.safetensors: data section has 4 trailing bytes/,
    );
  });

  it('rejects I64 values outside int32, naming the tensor', () => {
    const buf = rawFile(
      { ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } },
      Buffer.from(new BigInt64Array([2n ** 40n]).buffer),
    );
    expect(() => parseSafetensors(buf, 'i.safetensors')).toThrow(
      /i\.safetensors: tensor "ids": I64 value 1099511627776 at index 0 does not fit in int32/,
    );
  });
});

describe('tfjs helpers', () => {
  it('converts to and from tf tensors without leaking', async () => {
    const before = tf.memory().numTensors;
    const t = toTfTensor({ dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
    expect(t.shape).toEqual([2, 2]);
    expect(t.dtype).toBe('float32');
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3, 4]);
    const back = await fromTfTensor(t);
    expect(back).toEqual({ shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
    t.dispose();
    const many = toTfTensors({
      a: { shape: [1], data: new Int32Array([5]) },
      b: { shape: [], data: new Float32Array([0.5]) },
    });
    expect(many.a.dtype).toBe('int32');
    expect(many.b.shape).toEqual([]);
    tf.dispose(many);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe.skipIf(!existsSync(fixtures))('hf-tiny fixtures', () => {
  const expectedShapes: Record<string, Record<string, number[]>> = {
    'bert-tiny': {
      'embeddings.word_embeddings.weight': [99, 32],
      'embeddings.position_embeddings.weight': [64, 32],
      'embeddings.token_type_embeddings.weight': [2, 32],
      'encoder.layer.0.intermediate.dense.weight': [37, 32],
      'pooler.dense.weight': [32, 32],
    },
    'gpt2-tiny': {
      'transformer.wte.weight': [136, 32],
      'transformer.wpe.weight': [64, 32],
      'transformer.h.0.attn.c_attn.weight': [32, 96],
    },
    'llama-tiny': {
      'model.embed_tokens.weight': [136, 32],
      'model.layers.0.self_attn.k_proj.weight': [16, 32],
      'lm_head.weight': [136, 32],
    },
    'qwen2-tiny': {
      'model.layers.1.self_attn.q_proj.bias': [32],
      'model.layers.1.self_attn.v_proj.bias': [16],
      'model.layers.0.mlp.gate_proj.weight': [64, 32],
    },
  };
  for (const model of Object.keys(expectedShapes)) {
    it(`${model}: tensor names equal reference.json, shapes match config.json`, async () => {
      const dir = path.join(fixtures, model);
      const ref = JSON.parse(readFileSync(path.join(dir, 'reference.json'), 'utf8'));
      const { tensors, metadata } = await readSafetensorsWithMetadata(path.join(dir, 'model.safetensors'));
      expect(metadata).toEqual({ format: 'pt' });
      expect([...tensors.keys()].sort()).toEqual(ref.safetensors_tensors);
      for (const t of tensors.values()) {
        expect(t.dtype).toBe('F32');
        expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
      }
      for (const [name, shape] of Object.entries(expectedShapes[model]))
        expect(tensors.get(name)?.shape, name).toEqual(shape);
      const cfg = await readConfigJson(dir);
      const vocab = cfg.vocab_size as number;
      const hidden = (cfg.hidden_size ?? cfg.n_embd) as number;
      const emb =
        tensors.get('embeddings.word_embeddings.weight') ??
        tensors.get('transformer.wte.weight') ??
        tensors.get('model.embed_tokens.weight');
      expect(emb!.shape).toEqual([vocab, hidden]);
      // BERT's embedding row 0 (pad) is zero, as HF init leaves it
      if (model === 'bert-tiny') expect(Array.from(emb!.data.subarray(0, hidden)).every((v) => v === 0)).toBe(true);
      // re-writing gives a file that parses to the same tensors
      const copy = path.join(tmp, `${model}.safetensors`);
      await writeSafetensors(copy, tensors as Map<string, { shape: number[]; data: Float32Array }>);
      expect(await readSafetensors(copy)).toEqual(tensors);
    });
  }
});

describe('non-finite weights', () => {
  it('refuses a file with NaN or Inf, naming the file, tensor, count and first index', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-nan-'));
    const file = path.join(dir, 'model.safetensors');
    await writeSafetensors(file, {
      ok: { shape: [2], data: new Float32Array([1, 2]) },
      'w.bad': { shape: [4], data: new Float32Array([0, NaN, 3, Infinity]) },
    });
    await expect(readSafetensors(file)).rejects.toThrow(
      `${file}: tensor "w.bad" holds 2 non-finite values (first NaN at index 1)`,
    );
  });
});
