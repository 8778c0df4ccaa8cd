/**
 * GPT-2's byte-level alphabet and pre-tokenizer (tokenizers' `ByteLevel`),
 * as transformers.js 2.x implements them.
 *
 * Every byte 0..255 maps to one printable character (printable Latin-1 bytes
 * map to themselves, the others to U+0100 + n), so any UTF-8 text is a string
 * over a 256-symbol alphabet and decodes back exactly.
 */
import type { Span } from './bert-normalizer';

function buildByteTables(): { byteToChar: string[]; charToByte: Map<string, number> } {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b); // '!'..'~'
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b); // '¡'..'¬'
  for (let b = 0xae; b <= 0xff; b++) printable.push(b); // '®'..'ÿ'
  const byteToChar = new Array<string>(256);
  for (const b of printable) byteToChar[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (byteToChar[b] === undefined) byteToChar[b] = String.fromCharCode(256 + n++);
  }
  const charToByte = new Map(byteToChar.map((c, b) => [c, b]));
  return { byteToChar, charToByte };
}

const TABLES = buildByteTables();

/** byte → its alphabet character (e.g. 0x20 ' ' → 'Ġ', 0x0a '\n' → 'Ċ'). */
export const BYTE_TO_CHAR: readonly string[] = TABLES.byteToChar;
/** alphabet character → byte. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = TABLES.charToByte;

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** UTF-8 bytes of `text` as alphabet characters. */
export function toByteChars(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) {
      out = '';
      for (const b of ENCODER.encode(text)) out += BYTE_TO_CHAR[b];
      return out;
    }
    out += BYTE_TO_CHAR[c]; // ASCII fast path: one byte per character
  }
  return out;
}

/**
 * Alphabet characters back to text (invalid UTF-8 becomes U+FFFD; a character
 * outside the alphabet contributes its own UTF-8 bytes).
 */
export function fromByteChars(chars: string): string {
  const bytes: number[] = [];
  for (const c of chars) {
    const b = CHAR_TO_BYTE.get(c);
    if (b !== undefined) bytes.push(b);
    else bytes.push(...ENCODER.encode(c));
  }
  return DECODER.decode(new Uint8Array(bytes));
}

/** GPT-2's split pattern, as transformers.js uses it. */
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * ByteLevel pre-tokenizer (add_prefix_space false): GPT-2 regex split, spans
 * in the input's UTF-16 units (`text` is the raw substring, not yet mapped to
 * the byte alphabet).
 *
 * @example byteLevelSplit('Hi  you').map((s) => s.text); // ['Hi', ' ', ' you']
 */
export function byteLevelSplit(text: string, useRegex = true): Span[] {
  if (!useRegex) return text ? [{ text, start: 0, end: text.length }] : [];
  const out: Span[] = [];
  for (const m of text.matchAll(GPT2_PATTERN)) {
    const start = m.index ?? 0;
    out.push({ text: m[0], start, end: start + m[0].length });
  }
  return out;
}

/**
 * Character spans of byte ranges. A character belongs to the byte range that
 * holds its first byte: {@link ByteSpans.span} of bytes [b0, b1) is
 * [start of the first character starting in it, end of the last one], or the
 * empty span at the end of the character that started earlier when no
 * character starts inside the range. Consecutive ranges thus get in-order,
 * non-overlapping spans that cover the text.
 */
export class ByteSpans {
  private readonly charStart: number[] = [];
  private readonly charEnd: number[] = [];
  private readonly first: boolean[] = [];

  constructor(text: string) {
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i) as number;
      const units = cp > 0xffff ? 2 : 1;
      // Lone surrogates are encoded as U+FFFD (3 bytes) by TextEncoder.
      const nBytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      for (let k = 0; k < nBytes; k++) {
        this.charStart.push(i);
        this.charEnd.push(i + units);
        this.first.push(k === 0);
      }
      i += units;
    }
  }

  /** [start, end) in UTF-16 units of the text, for bytes [b0, b1). */
  span(b0: number, b1: number): [number, number] {
    for (let b = b0; b < b1; b++) {
      if (this.first[b]) return [this.charStart[b], this.charEnd[b1 - 1]];
    }
    return [this.charEnd[b0], this.charEnd[b0]];
  }
}
