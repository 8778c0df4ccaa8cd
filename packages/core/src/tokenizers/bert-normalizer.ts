/**
 * BERT text normalization and pre-tokenization (tokenizers' `BertNormalizer`
 * and `BertPreTokenizer`), reproducing transformers.js 2.x exactly, plus a
 * variant that maps every normalized character back to the input.
 */

/** Options of a `BertNormalizer` (tokenizer.json names in comments). */
export interface BertNormalizerOptions {
  /** `clean_text`: drop control characters, map whitespace to ' '. */
  cleanText: boolean;
  /** `handle_chinese_chars`: put spaces around CJK ideographs. */
  handleChineseChars: boolean;
  /** `strip_accents`: null follows `lowercase`. */
  stripAccents: boolean | null;
  /** `lowercase`. */
  lowercase: boolean;
}

/** Reads a `{"type": "BertNormalizer", ...}` object. */
export function parseBertNormalizer(json: Record<string, unknown>): BertNormalizerOptions {
  return {
    cleanText: json.clean_text !== false,
    handleChineseChars: json.handle_chinese_chars !== false,
    stripAccents: typeof json.strip_accents === 'boolean' ? json.strip_accents : null,
    lowercase: json.lowercase !== false,
  };
}

/** The tokenizer.json object of a `BertNormalizer`. */
export function bertNormalizerJSON(o: BertNormalizerOptions): Record<string, unknown> {
  return {
    type: 'BertNormalizer',
    clean_text: o.cleanText,
    handle_chinese_chars: o.handleChineseChars,
    strip_accents: o.stripAccents,
    lowercase: o.lowercase,
  };
}

const CONTROL = /^\p{Cc}|\p{Cf}|\p{Co}|\p{Cs}$/u; // transformers.js' test, verbatim
const WHITESPACE = /^\s$/;

function isControl(ch: string): boolean {
  return ch !== '\t' && ch !== '\n' && ch !== '\r' && CONTROL.test(ch);
}

/** CJK ideograph blocks, tested per UTF-16 code unit as transformers.js does. */
function isChineseCodeUnit(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0xf900 && cp <= 0xfaff);
}

function stripAccents(text: string): string {
  return text.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
}

/** Normalizes `text` exactly as transformers.js' BertNormalizer. */
export function bertNormalize(text: string, o: BertNormalizerOptions): string {
  if (o.cleanText) {
    let out = '';
    for (const ch of text) {
      const cp = ch.charCodeAt(0);
      if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
      out += WHITESPACE.test(ch) ? ' ' : ch;
    }
    text = out;
  }
  if (o.handleChineseChars) {
    let out = '';
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      out += isChineseCodeUnit(c.charCodeAt(0)) ? ` ${c} ` : c;
    }
    text = out;
  }
  if (o.lowercase) {
    text = text.toLowerCase();
    if (o.stripAccents !== false) text = stripAccents(text);
  } else if (o.stripAccents) {
    text = stripAccents(text);
  }
  return text;
}

/** Normalized text whose UTF-16 unit i came from `input.slice(starts[i], ends[i])`. */
export interface NormalizedText {
  text: string;
  starts: number[];
  ends: number[];
}

/**
 * {@link bertNormalize} with an offset map. Each code point is normalized
 * alone; a code point that normalizes to nothing (a stripped accent, a
 * control character) extends the span of the one before it; where that differs from normalizing its whitespace-delimited chunk
 * as a whole (context-dependent lowercasing such as Greek final sigma,
 * canonical reordering of marks), the chunk's characters all map to the
 * chunk's span. The text is always identical to {@link bertNormalize}.
 */
export function bertNormalizeWithOffsets(input: string, o: BertNormalizerOptions): NormalizedText {
  let text = '';
  const starts: number[] = [];
  const ends: number[] = [];
  const emit = (piece: string, s: number, e: number): void => {
    text += piece;
    for (let k = 0; k < piece.length; k++) {
      starts.push(s);
      ends.push(e);
    }
  };
  let i = 0;
  while (i < input.length) {
    const first = String.fromCodePoint(input.codePointAt(i) as number);
    let j = i + first.length;
    if (!WHITESPACE.test(first)) {
      while (j < input.length) {
        const ch = String.fromCodePoint(input.codePointAt(j) as number);
        if (WHITESPACE.test(ch)) break;
        j += ch.length;
      }
    }
    const chunk = input.slice(i, j);
    const whole = bertNormalize(chunk, o);
    const pieces: Array<[string, number, number]> = [];
    let joined = '';
    for (let k = i; k < j; ) {
      const ch = String.fromCodePoint(input.codePointAt(k) as number);
      const piece = bertNormalize(ch, o);
      pieces.push([piece, k, k + ch.length]);
      joined += piece;
      k += ch.length;
    }
    if (joined === whole) {
      let lastPiece = -1; // index in `text` where the chunk's latest non-empty piece starts
      for (const [piece, s, e] of pieces) {
        if (piece === '') {
          // a removed character (accent, control) joins the span of the character before it
          if (lastPiece >= 0) for (let k = lastPiece; k < text.length; k++) ends[k] = e;
          continue;
        }
        lastPiece = text.length;
        emit(piece, s, e);
      }
    } else {
      emit(whole, i, j);
    }
    i = j;
  }
  const exact = bertNormalize(input, o);
  if (text !== exact) {
    return { text: exact, starts: new Array(exact.length).fill(0), ends: new Array(exact.length).fill(input.length) };
  }
  return { text, starts, ends };
}

const PUNCTUATION = '\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E';
const BERT_PRE_TOKENIZE = new RegExp(`[^\\s${PUNCTUATION}]+|[${PUNCTUATION}]`, 'gu');

/** A pre-token and its [start, end) in the string it was cut from. */
export interface Span {
  text: string;
  start: number;
  end: number;
}

/**
 * BertPreTokenizer: drops whitespace, splits off every punctuation character
 * (Unicode P* plus all ASCII non-alphanumerics).
 *
 * @example bertPreTokenize("it's ok.").map((s) => s.text); // ['it', "'", 's', 'ok', '.']
 */
export function bertPreTokenize(text: string): Span[] {
  const out: Span[] = [];
  for (const m of text.matchAll(BERT_PRE_TOKENIZE)) {
    const start = m.index ?? 0;
    out.push({ text: m[0], start, end: start + m[0].length });
  }
  return out;
}
