/**
 * Reading GGUF files (the llama.cpp / Ollama weight format), versions 2 and 3, little-endian.
 *
 * Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count; metadata as
 * (string key, u32 value type, value); tensor infos as (string name, u32 n_dims, u64 ne[n_dims],
 * u32 ggml type, u64 offset); padding to `general.alignment` (default 32); the data section, where
 * each tensor's offset is relative to its start. Strings are u64 length + UTF-8 bytes.
 *
 * `ne[0]` is the fastest-varying dimension, so the row-major shape is `ne` reversed: a linear
 * weight with ne = [in, out] is [out, in], PyTorch's layout. Tensors are dequantised to float32 one
 * at a time ({@link readGgufTensors}), so loading a model never holds the whole file in memory.
 */
import { promises as fsp } from 'node:fs';
import { dequantize, ggmlByteSize, ggmlType, GGML_TYPE_NAMES, type GgmlType } from './gguf-dequant';

/** A metadata value: numbers (u64/i64 as number when safe, else bigint), booleans, strings, arrays. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

/** One tensor's entry in the file header. */
export interface GgufTensorInfo {
  name: string;
  /** Row-major shape (ne reversed). */
  shape: number[];
  /** ggml storage type (only supported types are accepted). */
  type: GgmlType;
  /** Absolute byte offset of the tensor data in the file. */
  offset: number;
  /** Bytes the tensor occupies. */
  byteLength: number;
}

/** The header of a GGUF file: version, metadata and tensor infos. */
export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Absolute offset of the data section. */
  dataOffset: number;
  alignment: number;
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;

/** Thrown by the cursor when the buffered prefix of the file is too short; the caller reads more. */
class NeedMore extends Error {}

class Cursor {
  pos = 0;
  private readonly view: DataView;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly buf: Uint8Array,
    private readonly complete: boolean,
    private readonly source: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    if (!this.complete) throw new NeedMore();
    throw new Error(
      `${this.source}: truncated GGUF file: header needs byte ${this.pos + n}, file has ${this.buf.byteLength}`,
    );
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  i8(): number {
    this.need(1);
    return this.view.getInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  i16(): number {
    this.need(2);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f32(): number {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  i64(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** A u64 that must fit a JS safe integer (counts, offsets, lengths). */
  size(what: string): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${this.source}: ${what} ${v} is too large`);
    return Number(v);
  }
  string(what: string): string {
    const n = this.size(`${what} length`);
    this.need(n);
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return this.utf8.decode(bytes);
    } catch {
      throw new Error(`${this.source}: ${what} is not valid UTF-8`);
    }
  }
}

const VALUE_TYPES = [
  'UINT8',
  'INT8',
  'UINT16',
  'INT16',
  'UINT32',
  'INT32',
  'FLOAT32',
  'BOOL',
  'STRING',
  'ARRAY',
  'UINT64',
  'INT64',
  'FLOAT64',
];

function smallBig(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

function readValue(c: Cursor, type: number, key: string, source: string): GgufValue {
  switch (type) {
    case 0:
      return c.u8();
    case 1:
      return c.i8();
    case 2:
      return c.u16();
    case 3:
      return c.i16();
    case 4:
      return c.u32();
    case 5:
      return c.i32();
    case 6:
      return c.f32();
    case 7: {
      const b = c.u8();
      if (b > 1) throw new Error(`${source}: metadata "${key}": BOOL value ${b} is neither 0 nor 1`);
      return b === 1;
    }
    case 8:
      return c.string(`metadata "${key}" string`);
    case 9: {
      const elemType = c.u32();
      const n = c.size(`metadata "${key}" array length`);
      if (elemType >= VALUE_TYPES.length)
        throw new Error(`${source}: metadata "${key}": unknown array element type ${elemType}`);
      const out: GgufValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(c, elemType, key, source);
      return out;
    }
    case 10:
      return smallBig(c.u64());
    case 11:
      return smallBig(c.i64());
    case 12:
      return c.f64();
    default:
      throw new Error(
        `${source}: metadata "${key}": unknown value type ${type} (valid: 0-12, ${VALUE_TYPES.join(', ')})`,
      );
  }
}

function parseHeader(buf: Uint8Array, complete: boolean, fileSize: number, source: string): GgufHeader {
  const c = new Cursor(buf, complete, source);
  const magic = c.u32();
  if (magic !== MAGIC) throw new Error(`${source}: not a GGUF file (the first 4 bytes are not "GGUF")`);
  const version = c.u32();
  if (version !== 2 && version !== 3) {
    const hint =
      version === 1
        ? ' (GGUF v1 is obsolete: re-convert with a current llama.cpp)'
        : version > 0xffff
          ? ' (a big-endian GGUF file?)'
          : '';
    throw new Error(`${source}: GGUF version ${version} is not supported (only 2 and 3)${hint}`);
  }
  const tensorCount = c.size('tensor count');
  const kvCount = c.size('metadata count');
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key #${i}`);
    const type = c.u32();
    if (metadata.has(key)) throw new Error(`${source}: metadata key "${key}" appears twice`);
    metadata.set(key, readValue(c, type, key, source));
  }
  const align = metadata.get('general.alignment') ?? DEFAULT_ALIGNMENT;
  if (typeof align !== 'number' || !Number.isInteger(align) || align < 1 || (align & (align - 1)) !== 0) {
    throw new Error(`${source}: general.alignment must be a power of two, got ${String(align)}`);
  }
  const raw: { name: string; shape: number[]; type: GgmlType; rel: number; count: number }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor #${i} name`);
    const nDims = c.u32();
    if (nDims < 1 || nDims > 4)
      throw new Error(`${source}: tensor "${name}" has ${nDims} dimensions (GGUF allows 1-4)`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(c.size(`tensor "${name}" dimension`));
    const typeId = c.u32();
    const type = ggmlType(typeId, `${source}: tensor "${name}"`);
    const rel = c.size(`tensor "${name}" offset`);
    if (rel % align !== 0)
      throw new Error(`${source}: tensor "${name}" offset ${rel} is not a multiple of the alignment ${align}`);
    if (names.has(name)) throw new Error(`${source}: tensor "${name}" appears twice`);
    names.add(name);
    const count = ne.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(count)) throw new Error(`${source}: tensor "${name}" shape [${ne}] is too large`);
    raw.push({ name, shape: ne.reverse(), type, rel, count });
  }
  const dataOffset = Math.ceil(c.pos / align) * align;
  const tensors = raw.map((t) => {
    const where = `${source}: tensor "${t.name}"`;
    const byteLength = ggmlByteSize(t.type, t.count, where);
    const offset = dataOffset + t.rel;
    if (offset + byteLength > fileSize) {
      throw new Error(
        `${where}: data [${offset}, ${offset + byteLength}) lies past the end of the ${fileSize}-byte file`,
      );
    }
    return { name: t.name, shape: t.shape, type: t.type, offset, byteLength };
  });
  return { version, metadata, tensors, dataOffset, alignment: align };
}

async function readExact(fh: fsp.FileHandle, offset: number, length: number, source: string): Promise<Uint8Array> {
  const out = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(out, got, length - got, offset + got);
    if (bytesRead === 0) throw new Error(`${source}: unexpected end of file at byte ${offset + got}`);
    got += bytesRead;
  }
  return out;
}

async function openGguf(filePath: string): Promise<fsp.FileHandle> {
  return fsp.open(filePath, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`${filePath}: cannot open GGUF file (${e.code ?? e.message})`);
  });
}

async function readHeaderFrom(fh: fsp.FileHandle, filePath: string): Promise<GgufHeader> {
  const { size } = await fh.stat();
  // The header's size is only known once parsed: parse a prefix, and read a longer one if it runs out.
  for (let chunk = Math.min(size, 8 << 20); ; chunk = Math.min(size, chunk * 4)) {
    const buf = await readExact(fh, 0, chunk, filePath);
    try {
      return parseHeader(buf, chunk === size, size, filePath);
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
    }
  }
}

/**
 * Reads the header of a GGUF file: metadata and tensor infos (no tensor data).
 *
 * @example
 * const { metadata, tensors } = await readGgufHeader('SmolLM2-135M-Instruct.Q4_1.gguf');
 * metadata.get('general.architecture'); // 'llama'
 */
export async function readGgufHeader(filePath: string): Promise<GgufHeader> {
  const fh = await openGguf(filePath);
  try {
    return await readHeaderFrom(fh, filePath);
  } finally {
    await fh.close();
  }
}

/**
 * Dequantises the tensors of a GGUF file to float32, one at a time, in file order, handing each
 * to `onTensor` before the next is read (so at most one dequantised tensor is alive here).
 * Returns the header.
 *
 * @example
 * await readGgufTensors('model.gguf', (info, data) => console.log(info.name, info.shape, data.length));
 */
export async function readGgufTensors(
  filePath: string,
  onTensor: (info: GgufTensorInfo, data: Float32Array, header: GgufHeader) => void | Promise<void>,
  header?: GgufHeader,
): Promise<GgufHeader> {
  const fh = await openGguf(filePath);
  try {
    const h = header ?? (await readHeaderFrom(fh, filePath));
    for (const t of h.tensors) {
      const bytes = await readExact(fh, t.offset, t.byteLength, filePath);
      const count = t.shape.reduce((a, b) => a * b, 1);
      await onTensor(t, dequantize(t.type, bytes, count, `${filePath}: tensor "${t.name}"`), h);
    }
    return h;
  } finally {
    await fh.close();
  }
}

/** Typed access to a metadata value; throws naming the key and the file when absent or of another kind. */
export function ggufMeta(header: GgufHeader, key: string, kind: 'number', source: string): number;
export function ggufMeta(header: GgufHeader, key: string, kind: 'string', source: string): string;
export function ggufMeta(header: GgufHeader, key: string, kind: 'array', source: string): GgufValue[];
export function ggufMeta(
  header: GgufHeader,
  key: string,
  kind: 'number' | 'string' | 'array',
  source: string,
): unknown {
  const v = header.metadata.get(key);
  if (v === undefined) throw new Error(`${source}: GGUF metadata "${key}" is missing`);
  const ok = kind === 'array' ? Array.isArray(v) : typeof v === kind;
  if (!ok)
    throw new Error(
      `${source}: GGUF metadata "${key}" must be a ${kind}, got ${Array.isArray(v) ? 'array' : typeof v}`,
    );
  return v;
}

export { GGML_TYPE_NAMES };
