import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCsv, loadDocuments, loadJsonl, parseCsv, readPassages, writePassages, type Passage } from '../src/index';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ingest-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadDocuments from a directory', () => {
  it('reads .txt/.md recursively, sorted by relative path, skipping hidden and other files', async () => {
    const root = path.join(dir, 'docs');
    await mkdir(path.join(root, 'a', 'deep'), { recursive: true });
    await mkdir(path.join(root, '.git'), { recursive: true });
    await writeFile(path.join(root, 'b.txt'), 'plain text');
    await writeFile(path.join(root, 'a', 'readme.md'), 'intro\n# The Title  \n\nbody');
    await writeFile(path.join(root, 'a', 'deep', 'z.TXT'), '\ufeffwith BOM');
    await writeFile(path.join(root, 'a', 'data.json'), '{}');
    await writeFile(path.join(root, '.hidden.txt'), 'no');
    await writeFile(path.join(root, '.git', 'x.txt'), 'no');
    const docs = await loadDocuments(root);
    expect(docs.map((d) => d.id)).toEqual(['a/deep/z.TXT', 'a/readme.md', 'b.txt']);
    expect(docs[0]).toEqual({ id: 'a/deep/z.TXT', text: 'with BOM' });
    expect(docs[1]).toEqual({ id: 'a/readme.md', text: 'intro\n# The Title  \n\nbody', title: 'The Title' });
  });
  it('names a missing source and an unsupported file type', async () => {
    await expect(loadDocuments(path.join(dir, 'nope'))).rejects.toThrow(/document source not found: .*nope/);
    await writeFile(path.join(dir, 'x.pdf'), '');
    await expect(loadDocuments(path.join(dir, 'x.pdf'))).rejects.toThrow(/unsupported document source .*x\.pdf/);
  });
});

describe('CSV', () => {
  const csv = [
    'doc_id,heading,body',
    '1,"Masks, gloves","He said ""wear one"".\nSecond line, with comma."',
    '2,,plain body\r',
    '',
    '3,Third,"multi',
    'line',
    'body"',
  ].join('\n');

  it('parses quoted fields with commas, doubled quotes, newlines and CRLF', () => {
    const recs = parseCsv(csv, 'x.csv');
    expect(recs.map((r) => r.line)).toEqual([1, 2, 4, 6]);
    expect(recs[1]!.fields).toEqual(['1', 'Masks, gloves', 'He said "wear one".\nSecond line, with comma.']);
    expect(recs[2]!.fields).toEqual(['2', '', 'plain body']);
    expect(recs[3]!.fields[2]).toBe('multi\nline\nbody');
  });

  it('loads documents with configurable columns', async () => {
    const file = path.join(dir, 'docs.csv');
    await writeFile(file, csv);
    const docs = await loadCsv(file, { idField: 'doc_id', textField: 'body', titleField: 'heading' });
    expect(docs).toEqual([
      { id: '1', title: 'Masks, gloves', text: 'He said "wear one".\nSecond line, with comma.' },
      { id: '2', text: 'plain body' },
      { id: '3', title: 'Third', text: 'multi\nline\nbody' },
    ]);
    // Via loadDocuments, without an id column: ids are file:line.
    const noId = await loadDocuments(file, { idField: null, textField: 'body' });
    expect(noId.map((d) => d.id)).toEqual(['docs.csv:2', 'docs.csv:4', 'docs.csv:6']);
  });

  it('errors name the file, the line and the missing column', async () => {
    const file = path.join(dir, 'bad.csv');
    await writeFile(file, csv);
    await expect(loadCsv(file, { idField: 'doc_id' })).rejects.toThrow(
      `${file}:1: header has no text column "text" (columns: doc_id, heading, body)`,
    );
    await writeFile(file, 'id,text\n1,"ok"\n2,"a\nb",extra\n');
    await expect(loadCsv(file)).rejects.toThrow(`${file}:3: expected 2 fields (as in the header), got 3`);
    await writeFile(file, 'id,text\n1,ok\n2,"never closed\nmore\n');
    await expect(loadCsv(file)).rejects.toThrow(`${file}:3: unterminated quoted field`);
    await writeFile(file, 'id,text\n1,ok\n,empty id\n');
    await expect(loadCsv(file)).rejects.toThrow(`${file}:3: missing id column "id"`);
    await writeFile(file, 'id,text\n1,a\n1,b\n');
    await expect(loadCsv(file)).rejects.toThrow(`${file}:3: duplicate document id "1" (first seen on line 2)`);
  });
});

describe('JSONL documents', () => {
  it('loads records with configurable fields', async () => {
    const file = path.join(dir, 'docs.jsonl');
    await writeFile(file, '{"uid": 7, "body": "seven", "name": "Seven"}\n\n{"uid": "x", "body": "ex"}\n');
    expect(await loadJsonl(file, { idField: 'uid', textField: 'body', titleField: 'name' })).toEqual([
      { id: '7', text: 'seven', title: 'Seven' },
      { id: 'x', text: 'ex' },
    ]);
  });
  it('names the file and line of a malformed line and of a missing field', async () => {
    const file = path.join(dir, 'bad.jsonl');
    await writeFile(file, '{"id": "a", "text": "ok"}\n{"id": "b", "text": \n');
    await expect(loadJsonl(file)).rejects.toThrow(new RegExp(`^${file.replace(/[.\\/]/g, '\\$&')}:2: malformed JSON`));
    await writeFile(file, '{"id": "a", "text": "ok"}\n\n{"id": "b", "body": "no text"}\n');
    await expect(loadJsonl(file)).rejects.toThrow(`${file}:3: missing text column "text"`);
  });
});

describe('passages.jsonl', () => {
  const passages: Passage[] = [
    { id: 'a#0', text: 'first "quoted"\nline', title: 'A', source: 'a', start: 0, end: 19 },
    { id: 'b#0', text: 'second', source: 'b', start: 5, end: 11 },
  ];
  it('round-trips exactly', async () => {
    const file = path.join(dir, 'out', 'passages.jsonl');
    await writePassages(file, passages);
    expect(await readPassages(file)).toEqual(passages);
    expect((await readFile(file, 'utf8')).split('\n')).toHaveLength(3);
  });
  it('errors name the file and line', async () => {
    const file = path.join(dir, 'bad-passages.jsonl');
    await writeFile(file, '{"id":"a","text":"t","source":"s","start":0,"end":1}\nnot json\n');
    await expect(readPassages(file)).rejects.toThrow(`${file}:2: malformed JSON`);
    await writeFile(
      file,
      '{"id":"a","text":"t","source":"s","start":0,"end":1}\n\n{"id":"b","text":"t","start":0,"end":1}\n',
    );
    await expect(readPassages(file)).rejects.toThrow(
      `${file}:3: passage field "source" must be a string, got nothing (field missing)`,
    );
    await writeFile(file, '{"id":"a","text":"t","source":"s","start":3,"end":1}\n');
    await expect(readPassages(file)).rejects.toThrow(`${file}:1: passage "end" (1) is before "start" (3)`);
    await writeFile(
      file,
      '{"id":"a","text":"t","source":"s","start":0,"end":1}\n{"id":"a","text":"t","source":"s","start":0,"end":1}\n',
    );
    await expect(readPassages(file)).rejects.toThrow(`${file}:2: duplicate passage id "a"`);
    await expect(readPassages(path.join(dir, 'none.jsonl'))).rejects.toThrow(/cannot read passages file .*none\.jsonl/);
  });
});
