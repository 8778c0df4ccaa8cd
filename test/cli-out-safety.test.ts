/**
 * Output safety: `--out` never deletes what dalm did not write, an index rebuild is one atomic swap,
 * and an interrupted swap is repaired on the next run (hardening issue, data-loss cases 1-3).
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initEngine } from '@dalm/core';
import { runCli } from './helpers/run-cli';

const repoRoot = path.resolve(__dirname, '..');
const bertTiny = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny', 'bert-tiny');

const run = (args: string[]) => runCli(args, { quietStderr: true });

function writeDocs(dir: string): void {
  mkdirSync(path.join(dir, 'sub'), { recursive: true });
  writeFileSync(path.join(dir, 'bats.txt'), 'Bats host many coronaviruses in their intestines.\n');
  writeFileSync(path.join(dir, 'masks.md'), '# Masks\n\nSurgical masks reduce droplet transmission between people.\n');
  writeFileSync(path.join(dir, 'sub', 'notes.txt'), 'The incubation period of the virus is about five days.\n');
}

describe('--out safety', () => {
  let root: string;
  let docs: string;
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
    root = mkdtempSync(path.join(os.tmpdir(), 'dalm-out-'));
    docs = path.join(root, 'docs');
    writeDocs(docs);
  });

  it('refuses an --out that is or contains the source, even with --force, and deletes nothing', async () => {
    await expect(run(['index', docs, '--out', docs])).rejects.toThrow(/would replace the input/);
    await expect(run(['index', docs, '--out', docs, '--force'])).rejects.toThrow(/would replace the input/);
    await expect(run(['index', path.join(docs, 'sub'), '--out', docs])).rejects.toThrow(/would replace the input/);
    expect(readFileSync(path.join(docs, 'sub', 'notes.txt'), 'utf8')).toContain('incubation');
    expect(readdirSync(docs).sort()).toEqual(['bats.txt', 'masks.md', 'sub']);
  });

  it('refuses an existing file and a foreign directory (unless --force), and leaves them as they were', async () => {
    const file = path.join(root, 'precious.txt');
    writeFileSync(file, 'keep me');
    await expect(run(['index', docs, '--out', file])).rejects.toThrow(/is an existing file/);
    expect(readFileSync(file, 'utf8')).toBe('keep me');

    const foreign = path.join(root, 'foreign');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'thesis.tex'), 'years of work');
    await expect(run(['index', docs, '--out', foreign])).rejects.toThrow(
      /not an index directory written by dalm.*--force/,
    );
    expect(readdirSync(foreign)).toEqual(['thesis.tex']);
    await expect(
      run(['train', 'retriever', '--pairs', path.join(root, 'none.jsonl'), '--out', foreign]),
    ).rejects.toThrow(/not a model directory written by dalm/);
    expect(readdirSync(foreign)).toEqual(['thesis.tex']);

    // --force replaces the index files but still keeps what the index does not own.
    await run(['index', docs, '--out', foreign, '--force']);
    expect(readdirSync(foreign).sort()).toEqual(['bm25.json', 'passages.jsonl', 'thesis.tex']);
  });

  it('rebuilding an index keeps the user files and sub-folders beside it', async () => {
    const idx = path.join(root, 'index-keep');
    await run(['index', docs, '--out', idx]);
    mkdirSync(path.join(idx, 'notes', 'deep'), { recursive: true });
    writeFileSync(path.join(idx, 'notes', 'deep', 'todo.md'), 'mine');
    writeFileSync(path.join(idx, 'README.txt'), 'also mine');
    await run(['index', docs, '--out', idx]);
    expect(readFileSync(path.join(idx, 'notes', 'deep', 'todo.md'), 'utf8')).toBe('mine');
    expect(readFileSync(path.join(idx, 'README.txt'), 'utf8')).toBe('also mine');
  });

  it('a BM25-only rebuild of a dense index leaves no stale dense files, and search works', async () => {
    const idx = path.join(root, 'index-dense');
    const dense = JSON.parse(
      await run(['index', docs, '--out', idx, '--retriever', bertTiny, '--dense-kind', 'exact', '--json']),
    );
    expect(dense.dense).toBe('exact');
    expect(existsSync(path.join(idx, 'manifest.json'))).toBe(true);
    expect(existsSync(path.join(idx, 'retriever.json'))).toBe(true);
    await run(['index', docs, '--out', idx]);
    expect(readdirSync(idx).sort()).toEqual(['bm25.json', 'passages.jsonl']);
    const hits = JSON.parse(await run(['search', idx, 'incubation period', '-k', '1', '--json']));
    expect(hits.mode).toBe('bm25');
    expect(hits.hits[0].text).toContain('incubation');
  });

  it('an index swap killed between its two renames is restored on the next run; stray temp dirs are removed', async () => {
    const idx = path.join(root, 'index-killed');
    await run(['index', docs, '--out', idx]);
    // What kill -9 between "old -> backup" and "new -> index" leaves: no index, the backup, a temp dir.
    const deadPid = 2 ** 22 + 12345; // above Linux's pid_max default: never a live process
    renameSync(idx, path.join(root, `.index-killed.old-${deadPid}-aaaaaa`));
    mkdirSync(path.join(root, `.index-killed.tmp-${deadPid}-aaaaaa`));
    writeFileSync(path.join(root, `.index-killed.tmp-${deadPid}-aaaaaa`, 'bm25.json'), '{half');
    const hits = JSON.parse(await run(['search', idx, 'surgical masks', '-k', '1', '--json']));
    expect(hits.hits[0].text).toContain('masks');
    expect(readdirSync(root).filter((n) => n.startsWith('.index-killed'))).toEqual([]);
    expect(readdirSync(idx).sort()).toEqual(['bm25.json', 'passages.jsonl']);
  });
});

describe('dalm index add / remove', () => {
  it('adds and removes passages in BM25 and dense together, in one swap', async () => {
    await initEngine({ backend: 'cpu' });
    const root = mkdtempSync(path.join(os.tmpdir(), 'dalm-addrm-'));
    const docs = path.join(root, 'docs');
    writeDocs(docs);
    const idx = path.join(root, 'index');
    await run(['index', docs, '--out', idx, '--retriever', bertTiny, '--dense-kind', 'exact']);
    const more = path.join(root, 'more.jsonl');
    writeFileSync(
      more,
      JSON.stringify({ id: 'vax', text: 'Vaccines train the immune system against the spike protein.' }) + '\n',
    );
    const added = JSON.parse(await run(['index', 'add', idx, more, '--chunk-tokens', '0', '--json']));
    expect(added).toMatchObject({ added: 1, replaced: 0, passages: 4 });
    for (const mode of ['bm25', 'dense']) {
      const hits = JSON.parse(
        await run(['search', idx, 'vaccines spike protein immune', '--mode', mode, '-k', '4', '--json']),
      );
      expect(hits.hits.map((h: { id: string }) => h.id)).toContain('vax');
    }
    const removed = JSON.parse(await run(['index', 'remove', idx, 'vax', 'no-such-id', '--json']));
    expect(removed).toMatchObject({ removed: 1, missing: 1, passages: 3 });
    for (const mode of ['bm25', 'dense']) {
      const hits = JSON.parse(
        await run(['search', idx, 'vaccines spike protein immune', '--mode', mode, '-k', '4', '--json']),
      );
      expect(hits.hits.map((h: { id: string }) => h.id)).not.toContain('vax');
      if (mode === 'dense') expect(hits.hits.length).toBe(3); // BM25 returns only passages sharing a term
    }
    expect(existsSync(path.join(idx, 'retriever.json'))).toBe(true);
    await expect(run(['index', 'remove', idx, 'nothing'])).rejects.toThrow(/none of the 1 ids is in the index/);
  });
});
