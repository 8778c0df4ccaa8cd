/**
 * Reading and writing the safetensors weight format (Hugging Face).
 *
 * Layout: 8-byte little-endian unsigned header length N, then N bytes of JSON
 * header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}`,
 * then the data section; offsets are relative to the start of the data section.
 *
 * Files are untrusted input: the header size is bounded, the JSON and every
 * entry are validated, and the tensors must tile the data section exactly (no
 * overlap, no gap, no trailing bytes). Errors name the file and the tensor.
 */
import { promises as fsp } from 'node:fs';
import { atomicWriteFileWith } from './atomic';
import { bf16BitsToFloat, halfBitsToFloat } from './float16';

/** Largest header accepted (bytes), as in the reference implementation. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

/** Storage dtypes this reader accepts, with their byte width. */
const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;

/** A safetensors storage dtype accepted by {@link parseSafetensors}. */
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

/**
 * A decoded tensor. Float dtypes (F64/F32/F16/BF16) decode to Float32Array,
 * integer and bool dtypes to Int32Array (an I64 value outside int32 is an error).
 */
export interface SafetensorsTensor {
  /** The dtype stored in the file. */
  dtype: SafetensorsDtype;
  /** Row-major shape; [] is a scalar. */
  shape: number[];
  /** Decoded values, length = product(shape). */
  data: Float32Array | Int32Array;
}

/** A tensor to write: float32 values are written as F32, int32 values as I32. */
export interface WritableTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Result of parsing: tensors in file-header order (sorted by name when we wrote it). */
export type SafetensorsMap = Map<string, SafetensorsTensor>;

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

interface ParsedHeader {
  entries: HeaderEntry[];
  metadata?: Record<string, string>;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isFloatDtype(d: SafetensorsDtype): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

/** Reads the 8-byte little-endian header length, bounded by the limit and the file size. */
function readHeaderLength(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8) {
    throw new Error(
      `${source}: truncated safetensors file: ${fileSize} bytes, less than the 8-byte header length prefix`,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) {
    throw new Error(
      `${source}: safetensors header length ${n} exceeds the limit of ${MAX_SAFETENSORS_HEADER_BYTES} bytes`,
    );
  }
  const len = Number(n);
  if (8 + len > fileSize) {
    throw new Error(
      `${source}: truncated safetensors file: header length ${len} but only ${fileSize - 8} bytes follow the prefix`,
    );
  }
  return len;
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Validates the JSON header against a data section of `dataLength` bytes. */
function parseHeader(headerBytes: Uint8Array, dataLength: number, source: string): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new Error(`${source}: safetensors header is not valid UTF-8`);
  }
  if (!text.startsWith('{')) throw new Error(`${source}: safetensors header does not start with '{'`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: safetensors header is not valid JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(`${source}: safetensors header must be a JSON object`);
  }
  const entries: HeaderEntry[] = [];
  let metadata: Record<string, string> | undefined;
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    const where = `${source}: tensor "${name}"`;
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new Error(`${source}: __metadata__ must be an object of strings`);
      }
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string')
          throw new Error(`${source}: __metadata__["${k}"] must be a string, got ${JSON.stringify(v)}`);
      }
      metadata = value as Record<string, string>;
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw new Error(`${where}: entry must be an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw new Error(
        `${where}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      throw new Error(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt) || offsets[0] > offsets[1]) {
      throw new Error(
        `${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] lie outside the ${dataLength}-byte data section`);
    }
    let count = 1;
    for (const d of shape as number[]) {
      count *= d;
      if (!Number.isSafeInteger(count)) throw new Error(`${where}: shape ${JSON.stringify(shape)} is too large`);
    }
    const width = DTYPE_BYTES[dtype as SafetensorsDtype];
    if (count * width !== end - begin) {
      throw new Error(
        `${where}: shape ${JSON.stringify(shape)} x ${dtype} (${width} bytes) = ${count * width} bytes, ` +
          `but data_offsets [${begin}, ${end}] span ${end - begin} bytes`,
      );
    }
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end });
  }
  // The tensors must tile the data section exactly.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of byOffset) {
    if (e.begin < cursor)
      throw new Error(
        `${source}: tensor "${e.name}" (bytes ${e.begin}-${e.end}) overlaps the previous tensor ending at ${cursor}`,
      );
    if (e.begin > cursor)
      throw new Error(
        `${source}: gap of ${e.begin - cursor} unused bytes before tensor "${e.name}" at offset ${cursor}`,
      );
    cursor = e.end;
  }
  if (cursor !== dataLength) {
    throw new Error(`${source}: data section has ${dataLength - cursor} trailing bytes not covered by any tensor`);
  }
  return { entries, metadata };
}

/** Decodes the exact byte range of one tensor. */
/**
 * Refuses weights holding NaN or ±Inf: a model with them would load and then answer "" (or train to
 * NaN) without a word, so the file is reported as corrupt where it is read.
 */
function checkFinite(data: Float32Array, name: string, source: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      let bad = 0;
      for (let j = i; j < data.length; j++) if (!Number.isFinite(data[j]!)) bad++;
      throw new Error(
        `${source}: tensor "${name}" holds ${bad} non-finite value${bad === 1 ? '' : 's'} (first ${data[i]} at index ${i}): the weights are corrupt — retrain, or restore the file`,
      );
    }
  }
}

function decodeTensor(bytes: Uint8Array, e: HeaderEntry, source: string): SafetensorsTensor {
  const count = (e.end - e.begin) / DTYPE_BYTES[e.dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isFloatDtype(e.dtype)) {
    const out = new Float32Array(count);
    if (e.dtype === 'F32') {
      if (LITTLE_ENDIAN_HOST)
        new Uint8Array(out.buffer).set(bytes); // aligned copy
      else for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
    } else if (e.dtype === 'F16') {
      for (let i = 0; i < count; i++) out[i] = halfBitsToFloat(view.getUint16(2 * i, true));
    } else if (e.dtype === 'BF16') {
      for (let i = 0; i < count; i++) out[i] = bf16BitsToFloat(view.getUint16(2 * i, true));
    } else {
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
    }
    checkFinite(out, e.name, source);
    return { dtype: e.dtype, shape: [...e.shape], data: out };
  }
  const out = new Int32Array(count);
  switch (e.dtype) {
    case 'I64':
      for (let i = 0; i < count; i++) {
        const lo = view.getUint32(8 * i, true);
        const hi = view.getInt32(8 * i + 4, true);
        if (!((hi === 0 && lo < 0x80000000) || (hi === -1 && lo >= 0x80000000))) {
          const v = view.getBigInt64(8 * i, true);
          throw new Error(`${source}: tensor "${e.name}": I64 value ${v} at index ${i} does not fit in int32`);
        }
        out[i] = lo | 0;
      }
      break;
    case 'I32':
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      break;
    case 'I16':
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, true);
      break;
    case 'I8':
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      break;
    default: // U8, BOOL
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i);
  }
  return { dtype: e.dtype, shape: [...e.shape], data: out };
}

/**
 * Parses a whole safetensors file held in memory. `sourceName` (a path or a
 * label) prefixes every error message.
 *
 * @example
 * const tensors = parseSafetensors(await fs.promises.readFile(p), p);
 * tensors.get('embeddings.word_embeddings.weight')!.shape; // [99, 32]
 */
export function parseSafetensors(buf: Uint8Array, sourceName: string): SafetensorsMap {
  return parseSafetensorsWithMetadata(buf, sourceName).tensors;
}

/** Like {@link parseSafetensors}, also returning the `__metadata__` object. */
export function parseSafetensorsWithMetadata(
  buf: Uint8Array,
  sourceName: string,
): { tensors: SafetensorsMap; metadata?: Record<string, string> } {
  const headerLen = readHeaderLength(buf.subarray(0, 8), buf.byteLength, sourceName);
  const dataStart = 8 + headerLen;
  const { entries, metadata } = parseHeader(buf.subarray(8, dataStart), buf.byteLength - dataStart, sourceName);
  const tensors: SafetensorsMap = new Map();
  for (const e of entries) {
    tensors.set(e.name, decodeTensor(buf.subarray(dataStart + e.begin, dataStart + e.end), e, sourceName));
  }
  return { tensors, metadata };
}

/**
 * Reads a safetensors file tensor by tensor (the whole file is never held in
 * memory at once, so files larger than a Node buffer work).
 *
 * @example
 * const w = (await readSafetensors('bert/model.safetensors')).get('pooler.dense.weight');
 */
export async function readSafetensors(filePath: string): Promise<SafetensorsMap> {
  return (await readSafetensorsWithMetadata(filePath)).tensors;
}

/** Like {@link readSafetensors}, also returning the `__metadata__` object. */
export async function readSafetensorsWithMetadata(
  filePath: string,
): Promise<{ tensors: SafetensorsMap; metadata?: Record<string, string> }> {
  const tensors: SafetensorsMap = new Map();
  const metadata = await readSafetensorsEach(filePath, (name, t) => {
    tensors.set(name, t);
  });
  return { tensors, metadata };
}

/**
 * Streams a safetensors file: decodes its tensors one at a time, in header order, and hands each
 * to `onTensor` before reading the next, so a caller that keeps only what it converts (e.g. model
 * weights assigned to variables) never holds two copies of the file. Returns `__metadata__`.
 *
 * @example
 * await readSafetensorsEach('model.safetensors', (name, t) => store.loadHost(new Map([[name, t]]), { strict: false }));
 */
export async function readSafetensorsEach(
  filePath: string,
  onTensor: (name: string, tensor: SafetensorsTensor) => void | Promise<void>,
): Promise<Record<string, string> | undefined> {
  const fh = await fsp.open(filePath, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`${filePath}: cannot open safetensors file (${e.code ?? e.message})`);
  });
  try {
    const { size } = await fh.stat();
    const readExact = async (offset: number, length: number): Promise<Uint8Array> => {
      const out = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(out, got, length - got, offset + got);
        if (bytesRead === 0) throw new Error(`${filePath}: unexpected end of file at byte ${offset + got}`);
        got += bytesRead;
      }
      return out;
    };
    const headerLen = readHeaderLength(await readExact(0, Math.min(8, size)), size, filePath);
    const dataStart = 8 + headerLen;
    const { entries, metadata } = parseHeader(await readExact(8, headerLen), size - dataStart, filePath);
    for (const e of entries) {
      await onTensor(e.name, decodeTensor(await readExact(dataStart + e.begin, e.end - e.begin), e, filePath));
    }
    return metadata;
  } finally {
    await fh.close();
  }
}

/** Validated, name-sorted list of tensors to write, with their header JSON. */
function planWrite(
  tensors: Record<string, WritableTensor> | Map<string, WritableTensor>,
  metadata: Record<string, string> | undefined,
): { header: Uint8Array; ordered: Array<[string, WritableTensor]> } {
  const all = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const ordered = all.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const json: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`writeSafetensors: metadata["${k}"] must be a string`);
    }
    json.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of ordered) {
    if (name === '' || name === '__metadata__')
      throw new Error(`writeSafetensors: invalid tensor name ${JSON.stringify(name)}`);
    if (!(t.data instanceof Float32Array) && !(t.data instanceof Int32Array)) {
      throw new Error(`writeSafetensors: tensor "${name}": data must be a Float32Array or Int32Array`);
    }
    if (!Array.isArray(t.shape) || !t.shape.every(isNonNegInt)) {
      throw new Error(
        `writeSafetensors: tensor "${name}": shape must be non-negative integers, got ${JSON.stringify(t.shape)}`,
      );
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new Error(
        `writeSafetensors: tensor "${name}": shape ${JSON.stringify(t.shape)} holds ${count} values but data has ${t.data.length}`,
      );
    }
    const dtype = t.data instanceof Float32Array ? 'F32' : 'I32';
    json[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let text = JSON.stringify(json);
  const raw = Buffer.byteLength(text, 'utf8');
  text += ' '.repeat((8 - (raw % 8)) % 8); // pad so the data section starts 8-byte aligned
  return { header: Buffer.from(text, 'utf8'), ordered };
}

function tensorBytes(data: Float32Array | Int32Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(4 * i, data[i], true);
    else view.setInt32(4 * i, data[i], true);
  }
  return out;
}

function lengthPrefix(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

/**
 * Serializes tensors to safetensors bytes in memory (same layout as
 * {@link writeSafetensors}).
 */
export function serializeSafetensors(
  tensors: Record<string, WritableTensor> | Map<string, WritableTensor>,
  metadata: Record<string, string> | undefined = { format: 'pt' },
): Uint8Array {
  const { header, ordered } = planWrite(tensors, metadata);
  const parts = [lengthPrefix(header.byteLength), header, ...ordered.map(([, t]) => tensorBytes(t.data))];
  return Buffer.concat(parts);
}

/**
 * Writes tensors as a safetensors file, atomically (temp file + rename).
 * Float32Array data is written as F32, Int32Array as I32; tensors are sorted
 * by name with contiguous offsets; the header is space-padded to a multiple of
 * 8 bytes; `metadata` defaults to `{format: 'pt'}` (what transformers expects).
 *
 * @example
 * await writeSafetensors('out/model.safetensors', { 'w': { shape: [2, 2], data: new Float32Array(4) } });
 */
export async function writeSafetensors(
  filePath: string,
  tensors: Record<string, WritableTensor> | Map<string, WritableTensor>,
  metadata: Record<string, string> | undefined = { format: 'pt' },
): Promise<void> {
  const { header, ordered } = planWrite(tensors, metadata);
  await atomicWriteFileWith(filePath, async (fh) => {
    const writeAll = async (bytes: Uint8Array): Promise<void> => {
      let off = 0;
      while (off < bytes.byteLength) off += (await fh.write(bytes, off, bytes.byteLength - off)).bytesWritten;
    };
    await writeAll(lengthPrefix(header.byteLength));
    await writeAll(header);
    for (const [, t] of ordered) await writeAll(tensorBytes(t.data));
  });
}
