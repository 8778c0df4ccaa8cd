/**
 * Added tokens (special tokens and user-added tokens of a `tokenizer.json`):
 * the text is split on them before normalization, exactly as transformers.js
 * 2.x does, keeping character offsets.
 */

/** One `added_tokens` entry of a tokenizer.json. */
export interface AddedTokenJSON {
  id: number;
  content: string;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  special?: boolean;
}

/** A piece of the input: plain text to tokenize, or one added token. */
export interface TextSection {
  text: string;
  /** Offset of `text` in the input (UTF-16 code units). */
  start: number;
  /** Set when this section is an added token. */
  added?: AddedTokenJSON;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Validates and copies the `added_tokens` array of a tokenizer.json. */
export function parseAddedTokens(value: unknown, source: string): AddedTokenJSON[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`${source}: "added_tokens" must be an array`);
  return value.map((t, i) => {
    if (
      !t ||
      typeof t !== 'object' ||
      typeof t.content !== 'string' ||
      t.content === '' ||
      !Number.isInteger(t.id) ||
      t.id < 0
    ) {
      throw new Error(
        `${source}: added_tokens[${i}] needs a non-empty "content" string and a non-negative integer "id"`,
      );
    }
    return { ...t } as AddedTokenJSON;
  });
}

/**
 * Splits `text` on added tokens: the same alternation transformers.js builds
 * (tokens in file order; `lstrip`/`rstrip` swallow adjacent whitespace, which
 * is dropped). Empty sections are omitted.
 */
export class AddedTokenSplitter {
  private readonly regex: RegExp | null;
  private readonly byContent: Map<string, AddedTokenJSON>;

  constructor(tokens: AddedTokenJSON[]) {
    this.byContent = new Map();
    for (const t of tokens) if (!this.byContent.has(t.content)) this.byContent.set(t.content, t); // first wins, as in transformers.js
    this.regex = tokens.length
      ? new RegExp(
          tokens.map((t) => `${t.lstrip ? '\\s*' : ''}(${escapeRegExp(t.content)})${t.rstrip ? '\\s*' : ''}`).join('|'),
          'gd',
        )
      : null;
  }

  split(text: string): TextSection[] {
    if (!this.regex) return text ? [{ text, start: 0 }] : [];
    const out: TextSection[] = [];
    let prev = 0;
    for (const m of text.matchAll(this.regex)) {
      const start = m.index ?? 0;
      if (start > prev) out.push({ text: text.slice(prev, start), start: prev });
      const indices = (m as RegExpMatchArray & { indices: Array<[number, number] | undefined> }).indices;
      for (let g = 1; g < m.length; g++) {
        const span = indices[g];
        if (m[g] !== undefined && span) {
          out.push({ text: m[g], start: span[0], added: this.byContent.get(m[g]) });
          break;
        }
      }
      prev = start + m[0].length;
    }
    if (prev < text.length) out.push({ text: text.slice(prev), start: prev });
    // transformers.js treats any section equal to an added token's content as that token.
    for (const s of out) if (!s.added) s.added = this.byContent.get(s.text);
    return out;
  }
}
