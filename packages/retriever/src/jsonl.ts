/** JSON Lines parsing with errors that name `file:line`. */

/** One parsed line: the value and its 1-based line number. */
export interface JsonlRow {
  value: Record<string, unknown>;
  line: number;
}

/**
 * Parses JSONL text whose lines are JSON objects; blank lines are skipped.
 *
 * @example parseJsonl('{"a":1}\n\n{"a":2}\n', 'x.jsonl') // [{value:{a:1},line:1},{value:{a:2},line:3}]
 */
export function parseJsonl(content: string, file: string): JsonlRow[] {
  const rows: JsonlRow[] = [];
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.trim();
    if (text === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: malformed JSON (${(e as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(
        `${file}:${i + 1}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`,
      );
    }
    rows.push({ value: value as Record<string, unknown>, line: i + 1 });
  }
  return rows;
}
