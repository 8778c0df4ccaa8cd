/**
 * GGUF reading: each dequantiser against blocks computed by hand from ggml's layouts, and the
 * reader against a file assembled byte by byte here (metadata of every kind, alignment padding,
 * shapes reversed from ne, offsets), plus the refusals (v1, bad magic, unsupported types by name).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dequantize, ggmlType, ggmlByteSize, readGgufHeader, readGgufTensors } from '../src/index';

const f16 = { half: 0x3800, one: 0x3c00, two: 0x4000, quarter: 0x3400, minusOne: 0xbc00 };

function u16(v: number): number[] {
  return [v & 0xff, v >> 8];
}

describe('dequantisation of ggml blocks', () => {
  it('Q8_0: x_j = q_j * d', () => {
    const block = [...u16(f16.half), ...Array.from({ length: 32 }, (_, j) => (j - 16) & 0xff)];
    const out = dequantize('Q8_0', Uint8Array.from(block), 32);
    expect(Array.from(out)).toEqual(Array.from({ length: 32 }, (_, j) => (j - 16) * 0.5));
    expect(out[0]).toBe(-8);
    expect(out[31]).toBe(7.5);
  });

  it('Q4_0: low nibbles are elements 0..15, high nibbles 16..31, x = (q - 8) * d', () => {
    const qs = Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4));
    const out = dequantize('Q4_0', Uint8Array.from([...u16(f16.two), ...qs]), 32);
    const expected = [
      ...Array.from({ length: 16 }, (_, j) => (j - 8) * 2),
      ...Array.from({ length: 16 }, (_, j) => (15 - j - 8) * 2),
    ];
    expect(Array.from(out)).toEqual(expected);
    expect([out[0], out[15], out[16], out[31]]).toEqual([-16, 14, 14, -16]);
  });

  it('Q4_1: x = q * d + m', () => {
    const qs = Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4));
    const out = dequantize('Q4_1', Uint8Array.from([...u16(f16.quarter), ...u16(f16.minusOne), ...qs]), 32);
    const expected = [
      ...Array.from({ length: 16 }, (_, j) => j * 0.25 - 1),
      ...Array.from({ length: 16 }, (_, j) => (15 - j) * 0.25 - 1),
    ];
    expect(Array.from(out)).toEqual(expected);
    expect([out[0], out[15], out[16]]).toEqual([-1, 2.75, 2.75]);
  });

  it('two blocks in a row use their own scales', () => {
    const b1 = [...u16(f16.one), ...Array.from({ length: 32 }, () => 3)];
    const b2 = [...u16(f16.two), ...Array.from({ length: 32 }, () => 0xff)]; // int8 -1
    const out = dequantize('Q8_0', Uint8Array.from([...b1, ...b2]), 64);
    expect(out[0]).toBe(3);
    expect(out[63]).toBe(-2);
  });

  it('F32, F16 and BF16', () => {
    const f32 = new Uint8Array(new Float32Array([1.5, -2.25]).buffer);
    expect(Array.from(dequantize('F32', f32, 2))).toEqual([1.5, -2.25]);
    expect(Array.from(dequantize('F16', Uint8Array.from([...u16(0x3c00), ...u16(0xc000), ...u16(0x7bff)]), 3))).toEqual(
      [1, -2, 65504],
    );
    expect(Array.from(dequantize('BF16', Uint8Array.from([...u16(0x3f80), ...u16(0xc040)]), 2))).toEqual([1, -3]);
  });

  it('refuses other types by name, and partial blocks', () => {
    expect(() => ggmlType(12, 'w')).toThrow(
      /w: ggml type Q4_K is not supported \(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1\)/,
    );
    expect(() => ggmlType(14, 'w')).toThrow(/Q6_K/);
    expect(() => ggmlType(99, 'w')).toThrow(/unknown type id 99/);
    expect(() => ggmlByteSize('Q4_0', 40, 'w')).toThrow(/40 values is not a multiple of the Q4_0 block size 32/);
    expect(ggmlByteSize('Q4_1', 64, 'w')).toBe(40);
  });
});

/** Assembles a GGUF file: little-endian, strings as u64 length + UTF-8. */
class GgufBuilder {
  private bytes: number[] = [];
  u8(v: number) {
    this.bytes.push(v & 0xff);
    return this;
  }
  u32(v: number) {
    for (let i = 0; i < 4; i++) this.bytes.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  u64(v: number | bigint) {
    let b = BigInt(v);
    for (let i = 0; i < 8; i++) {
      this.bytes.push(Number(b & 0xffn));
      b >>= 8n;
    }
    return this;
  }
  f32(v: number) {
    this.bytes.push(...new Uint8Array(new Float32Array([v]).buffer));
    return this;
  }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.bytes.push(...b);
    return this;
  }
  raw(b: ArrayLike<number>) {
    this.bytes.push(...Array.from(b));
    return this;
  }
  pad(align: number) {
    while (this.bytes.length % align) this.bytes.push(0);
    return this;
  }
  get length() {
    return this.bytes.length;
  }
  build() {
    return Uint8Array.from(this.bytes);
  }
}

describe('GGUF reader', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gguf-test-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function file(name: string, bytes: Uint8Array): string {
    const p = path.join(dir, name);
    writeFileSync(p, bytes);
    return p;
  }

  /** v3 file: 7 metadata keys (alignment 64), tensors a: F32 ne=[3,2] and b: Q8_0 ne=[32]. */
  function sample(version = 3, typeOfB = 8): Uint8Array {
    const g = new GgufBuilder().u32(0x46554747).u32(version).u64(2).u64(7);
    g.str('general.architecture').u32(8).str('llama');
    g.str('general.alignment').u32(4).u32(64);
    g.str('x.u8').u32(0).u8(200);
    g.str('x.bool').u32(7).u8(1);
    g.str('x.f32').u32(6).f32(0.5);
    g.str('x.u64')
      .u32(10)
      .u64(1n << 40n);
    g.str('x.tokens').u32(9).u32(8).u64(3).str('a').str('é').str('<|im_start|>');
    g.str('a').u32(2).u64(3).u64(2).u32(0).u64(0);
    g.str('b').u32(1).u64(32).u32(typeOfB).u64(64); // a takes 24 bytes, padded to 64
    g.pad(64);
    const dataStart = g.length;
    g.raw(new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer)).pad(64);
    expect(g.length - dataStart).toBe(64);
    g.raw([...u16(f16.half), ...Array.from({ length: 32 }, (_, j) => j)]);
    return g.build();
  }

  it('reads metadata of each kind, tensor infos, alignment and data', async () => {
    const p = file('ok.gguf', sample());
    const h = await readGgufHeader(p);
    expect(h.version).toBe(3);
    expect(h.alignment).toBe(64);
    expect(h.metadata.get('general.architecture')).toBe('llama');
    expect(h.metadata.get('x.u8')).toBe(200);
    expect(h.metadata.get('x.bool')).toBe(true);
    expect(h.metadata.get('x.f32')).toBe(0.5);
    expect(h.metadata.get('x.u64')).toBe(2 ** 40);
    expect(h.metadata.get('x.tokens')).toEqual(['a', 'é', '<|im_start|>']);
    expect(h.tensors.map((t) => [t.name, t.shape, t.type, t.byteLength])).toEqual([
      ['a', [2, 3], 'F32', 24],
      ['b', [32], 'Q8_0', 34],
    ]);
    expect(h.dataOffset % 64).toBe(0);
    expect(h.tensors[1].offset - h.tensors[0].offset).toBe(64);
    const seen: Array<[string, number[]]> = [];
    await readGgufTensors(p, (info, data) => {
      seen.push([info.name, Array.from(data)]);
    });
    expect(seen[0]).toEqual(['a', [1, 2, 3, 4, 5, 6]]);
    expect(seen[1][1]).toEqual(Array.from({ length: 32 }, (_, j) => j * 0.5));
  });

  it('refuses v1, a wrong magic, unsupported tensor types and truncated files, naming the file', async () => {
    await expect(readGgufHeader(file('v1.gguf', sample(1)))).rejects.toThrow(
      /v1.gguf: GGUF version 1 is not supported \(only 2 and 3\)/,
    );
    const bad = sample();
    bad[0] = 0x47 ^ 1;
    await expect(readGgufHeader(file('magic.gguf', bad))).rejects.toThrow(/magic.gguf: not a GGUF file/);
    await expect(readGgufHeader(file('q4k.gguf', sample(3, 12)))).rejects.toThrow(
      /q4k.gguf: tensor "b": ggml type Q4_K is not supported/,
    );
    await expect(readGgufHeader(file('short.gguf', sample().subarray(0, 100)))).rejects.toThrow(
      /short.gguf: truncated GGUF file/,
    );
    const full = sample();
    await expect(readGgufHeader(file('cut.gguf', full.subarray(0, full.length - 10)))).rejects.toThrow(
      /cut.gguf: tensor "b": data .* past the end/,
    );
  });

  it('reads a v2 file the same way', async () => {
    const h = await readGgufHeader(file('v2.gguf', sample(2)));
    expect(h.version).toBe(2);
    expect(h.tensors).toHaveLength(2);
  });
});
