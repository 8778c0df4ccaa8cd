/**
 * Reading source files as UTF-8 text without silent damage. Node's `readFile(f, 'utf8')` turns
 * invalid bytes into U+FFFD and happily decodes a binary file; here a file with NUL bytes or mostly
 * control characters is recognised as binary, and invalid UTF-8 is counted, so the caller can skip,
 * warn or refuse (`strict`).
 */
import { readFile } from 'node:fs/promises';

/** How ingestion treats files that are not clean UTF-8 text. */
export interface IngestOptions {
  /** Refuse (throw) instead of skipping binary files and warning about invalid UTF-8. */
  strict: boolean;
  /** Where warnings go (default: one line on stderr). */
  warn: (message: string) => void;
}

export const DEFAULT_INGEST_OPTIONS: Readonly<IngestOptions> = Object.freeze({
  strict: false,
  warn: (message: string) => void process.stderr.write(`dalm: warning: ${message}\n`),
});

/** What decoding a file found. */
export interface DecodedText {
  /** The text (BOM removed; invalid sequences as U+FFFD), or null for a binary file. */
  text: string | null;
  /** Invalid UTF-8 sequences replaced by U+FFFD. */
  invalidSequences: number;
}

const STRICT = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const LENIENT = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

/** True when the bytes look like a binary file: a NUL byte, or > 10% control bytes, in the first 8 KiB. */
export function looksBinary(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 8192);
  let control = 0;
  for (const b of head) {
    if (b === 0) return true;
    if (b < 32 && b !== 9 && b !== 10 && b !== 13 && b !== 12) control++;
  }
  return head.length > 0 && control / head.length > 0.1;
}

/** Decodes bytes as UTF-8, counting invalid sequences (0 for clean text). */
export function decodeUtf8(bytes: Uint8Array): DecodedText {
  if (looksBinary(bytes)) return { text: null, invalidSequences: 0 };
  try {
    return { text: STRICT.decode(bytes), invalidSequences: 0 };
  } catch {
    const text = LENIENT.decode(bytes);
    // U+FFFD already in a valid file cannot be told apart here; count all, which errs on the loud side.
    let invalid = 0;
    for (let i = text.indexOf('\ufffd'); i !== -1; i = text.indexOf('\ufffd', i + 1)) invalid++;
    return { text, invalidSequences: invalid };
  }
}

/**
 * Reads `file` as UTF-8 text under `opts`: a binary file is skipped with a warning (null) or, when
 * strict, refused; invalid UTF-8 is kept as U+FFFD with a warning naming the count, or refused.
 */
export async function readTextFile(file: string, opts: Partial<IngestOptions> = {}): Promise<string | null> {
  const o = { ...DEFAULT_INGEST_OPTIONS, ...opts };
  const decoded = decodeUtf8(await readFile(file));
  if (decoded.text === null) {
    if (o.strict)
      throw new Error(`${file}: binary file, not text (remove it, or rename it so it is not a .txt/.md/.jsonl/.csv)`);
    o.warn(`${file}: skipped, it is a binary file, not text`);
    return null;
  }
  if (decoded.invalidSequences > 0) {
    const msg = `${file}: ${decoded.invalidSequences} invalid UTF-8 sequence${decoded.invalidSequences === 1 ? '' : 's'}`;
    if (o.strict) throw new Error(`${msg} (re-encode the file as UTF-8, e.g. iconv -f latin1 -t utf-8)`);
    o.warn(`${msg} replaced by U+FFFD (re-encode it as UTF-8, or pass --strict to refuse such files)`);
  }
  return decoded.text;
}
