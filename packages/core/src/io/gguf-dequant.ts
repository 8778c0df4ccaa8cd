/**
 * ggml tensor types and their dequantisation to float32 (the block layouts of ggml's
 * `ggml-common.h`). Supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1; every other type is refused by name.
 *
 *   Q8_0  32 values / 34 bytes:  f16 d, int8 q[32]                 x_i = q_i·d
 *   Q4_0  32 values / 18 bytes:  f16 d, u8 qs[16]                  x_i = (nibble_i − 8)·d
 *   Q4_1  32 values / 20 bytes:  f16 d, f16 m, u8 qs[16]           x_i = nibble_i·d + m
 *
 * In the 4-bit types element j < 16 is the low nibble of qs[j] and element j + 16 its high nibble.
 */
import { bf16BitsToFloat, halfBitsToFloat } from './float16';

/** ggml type ids (`enum ggml_type`) with their names, for error messages. */
export const GGML_TYPE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  6: 'Q5_0',
  7: 'Q5_1',
  8: 'Q8_0',
  9: 'Q8_1',
  10: 'Q2_K',
  11: 'Q3_K',
  12: 'Q4_K',
  13: 'Q5_K',
  14: 'Q6_K',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  24: 'I8',
  25: 'I16',
  26: 'I32',
  27: 'I64',
  28: 'F64',
  29: 'IQ1_M',
  30: 'BF16',
  34: 'TQ1_0',
  35: 'TQ2_0',
  39: 'MXFP4',
});

/** The ggml types this reader dequantises. */
export type GgmlType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_1';

/** Values per block and bytes per block of each supported type. */
export const GGML_BLOCKS: Readonly<Record<GgmlType, { id: number; values: number; bytes: number }>> = Object.freeze({
  F32: { id: 0, values: 1, bytes: 4 },
  F16: { id: 1, values: 1, bytes: 2 },
  BF16: { id: 30, values: 1, bytes: 2 },
  Q8_0: { id: 8, values: 32, bytes: 34 },
  Q4_0: { id: 2, values: 32, bytes: 18 },
  Q4_1: { id: 3, values: 32, bytes: 20 },
});

const BY_ID = new Map<number, GgmlType>(Object.entries(GGML_BLOCKS).map(([name, b]) => [b.id, name as GgmlType]));

/** The supported type of ggml id `id`; throws naming the type (and `where`) when it is not supported. */
export function ggmlType(id: number, where: string): GgmlType {
  const t = BY_ID.get(id);
  if (t) return t;
  const name = GGML_TYPE_NAMES[id] ?? `unknown type id ${id}`;
  throw new Error(`${where}: ggml type ${name} is not supported (supported: ${Object.keys(GGML_BLOCKS).join(', ')})`);
}

/** Bytes that `count` values of `type` occupy; throws if `count` is not a whole number of blocks. */
export function ggmlByteSize(type: GgmlType, count: number, where: string): number {
  const b = GGML_BLOCKS[type];
  if (count % b.values !== 0)
    throw new Error(`${where}: ${count} values is not a multiple of the ${type} block size ${b.values}`);
  return (count / b.values) * b.bytes;
}

/**
 * Dequantises `count` values of `type` from `bytes` (exactly `ggmlByteSize(type, count)` long) to float32.
 *
 * @example
 * dequantize('Q8_0', block34Bytes, 32); // Float32Array(32): q_i·d
 */
export function dequantize(type: GgmlType, bytes: Uint8Array, count: number, where = 'tensor'): Float32Array {
  const need = ggmlByteSize(type, count, where);
  if (bytes.byteLength !== need)
    throw new Error(`${where}: ${type} x ${count} needs ${need} bytes, got ${bytes.byteLength}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (type) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfBitsToFloat(view.getUint16(2 * i, true));
      break;
    case 'BF16':
      for (let i = 0; i < count; i++) out[i] = bf16BitsToFloat(view.getUint16(2 * i, true));
      break;
    case 'Q8_0':
      for (let _b = 0, o = 0, p = 0; o < count; _b++, o += 32, p += 34) {
        const d = halfBitsToFloat(view.getUint16(p, true));
        for (let j = 0; j < 32; j++) out[o + j] = view.getInt8(p + 2 + j) * d;
      }
      break;
    case 'Q4_0':
      for (let o = 0, p = 0; o < count; o += 32, p += 18) {
        const d = halfBitsToFloat(view.getUint16(p, true));
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 2 + j];
          out[o + j] = ((q & 0x0f) - 8) * d;
          out[o + j + 16] = ((q >> 4) - 8) * d;
        }
      }
      break;
    case 'Q4_1':
      for (let o = 0, p = 0; o < count; o += 32, p += 20) {
        const d = halfBitsToFloat(view.getUint16(p, true));
        const m = halfBitsToFloat(view.getUint16(p + 2, true));
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 4 + j];
          out[o + j] = (q & 0x0f) * d + m;
          out[o + j + 16] = (q >> 4) * d + m;
        }
      }
      break;
  }
  return out;
}
