/**
 * A small RFC 4180 CSV reader: comma-separated fields, fields optionally wrapped in double
 * quotes, `""` for a quote inside a quoted field, quoted fields may hold commas and newlines,
 * LF or CRLF line ends. Each record remembers the line it starts on, for error messages.
 */

/** One CSV record: its fields and the 1-based line number where it starts. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * Parses CSV text into records (the header, if any, is the first record). Blank lines
 * between records are skipped. Throws, naming `file:line`, on an unterminated quoted field
 * or on text after a closing quote.
 *
 * @example
 * parseCsv('id,text\n1,"a, b"\n', 'x.csv') // [{fields:['id','text'],line:1},{fields:['1','a, b'],line:2}]
 */
export function parseCsv(content: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = 0;
  let line = 1;
  const n = content.length;
  if (content.charCodeAt(0) === 0xfeff) i = 1; // byte-order mark
  while (i < n) {
    // Skip blank lines between records.
    if (content[i] === '\n' || (content[i] === '\r' && content[i + 1] === '\n')) {
      i += content[i] === '\r' ? 2 : 1;
      line++;
      continue;
    }
    const recordLine = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (content[i] === '"') {
        const quoteLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new Error(`${file}:${quoteLine}: unterminated quoted field (no closing '"')`);
          const c = content[i]!;
          if (c === '"') {
            if (content[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        const next = content[i];
        if (next !== undefined && next !== ',' && next !== '\n' && !(next === '\r' && content[i + 1] === '\n')) {
          throw new Error(`${file}:${line}: unexpected character ${JSON.stringify(next)} after a closing quote`);
        }
      } else {
        const startField = i;
        while (
          i < n &&
          content[i] !== ',' &&
          content[i] !== '\n' &&
          !(content[i] === '\r' && content[i + 1] === '\n')
        ) {
          if (content[i] === '"') {
            throw new Error(
              `${file}:${line}: a quote inside an unquoted field (wrap the field in quotes and double the quote)`,
            );
          }
          i++;
        }
        field = content.slice(startField, i);
      }
      fields.push(field);
      if (content[i] === ',') {
        i++;
        continue;
      }
      break; // end of record: newline or end of input
    }
    if (i < n) {
      i += content[i] === '\r' ? 2 : 1;
      line++;
    }
    records.push({ fields, line: recordLine });
  }
  return records;
}
