import { describe, it, expect, beforeAll } from 'vitest';
import path from 'node:path';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import { initEngine, loadTokenizer, type Tokenizer } from '@dalm/core';
import {
  buildPrompt,
  answerIds,
  DEFAULT_PROMPT_FORMAT,
  savePromptFormat,
  loadPromptFormat,
} from '../src/prompt-format';
import { RagPipeline, type PassageSearch } from '../src/rag';
import { loadCausalLM } from '../src/load';
import { generate } from '../src/generate';

const fixture = path.resolve(__dirname, '../../../../shared/fixtures/hf-tiny/llama-tiny');

describe.skipIf(!existsSync(fixture))('prompt format and RAG pipeline', () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    tok = await loadTokenizer(fixture);
  });

  it('places passages in rank order with their ids, then the question, within the budget', () => {
    const enc = (s: string) => tok.encode(s, { addSpecialTokens: false });
    const passages = [
      { id: 'a', text: 'Hello world. '.repeat(3), title: 'T' },
      { id: 'b', text: 'The quick brown fox jumps over the lazy dog. '.repeat(4) },
    ];
    const full = buildPrompt(tok, DEFAULT_PROMPT_FORMAT, 'Hello?', passages, 10_000, 1);
    expect(full.ids[0]).toBe(1);
    expect(full.passages.map((p) => p.id)).toEqual(['a', 'b']);
    expect(full.passages.every((p) => p.keptTokens === p.totalTokens)).toBe(true);
    const text = tok.decode(full.ids.slice(1));
    expect(text.indexOf('[a] T: Hello world.')).toBeGreaterThanOrEqual(0);
    expect(text.indexOf('[b]')).toBeGreaterThan(text.indexOf('[a]'));
    expect(text.endsWith('Question: Hello?\nAnswer:')).toBe(true);

    // A budget 10 tokens short: the lower-ranked passage loses exactly 10 body tokens, the question none.
    const short = buildPrompt(tok, DEFAULT_PROMPT_FORMAT, 'Hello?', passages, full.ids.length - 10, 1);
    expect(short.ids.length).toBe(full.ids.length - 10);
    expect(short.passages[0].keptTokens).toBe(short.passages[0].totalTokens);
    expect(short.passages[1].keptTokens).toBe(short.passages[1].totalTokens - 10);
    expect(tok.decode(short.ids).endsWith('Question: Hello?\nAnswer:')).toBe(true);
    // Too small for the question alone: a clear error.
    expect(() => buildPrompt(tok, DEFAULT_PROMPT_FORMAT, 'Hello?', passages, 3, 1)).toThrow(
      /question alone needs \d+ tokens/,
    );
    expect(answerIds(tok, DEFAULT_PROMPT_FORMAT, 'world', 2)).toEqual([...enc(' world'), 2]);
  });

  it('persists the format with the model', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-fmt-'));
    const custom = { ...DEFAULT_PROMPT_FORMAT, instruction: 'Use the context.' };
    await savePromptFormat(dir, custom);
    expect(await loadPromptFormat(dir)).toEqual(custom);
  });

  it('ask streams the same answer as generate on the built prompt and cites the passages it was given', async () => {
    const model = await loadCausalLM(fixture);
    // A stub search makes the retrieved passages exactly known.
    const search: PassageSearch = {
      search: async (_q, { k }) =>
        [
          { id: 'p1', score: 0.9, passage: { id: 'p1', text: 'Hello world.', source: 'doc1.txt' } },
          { id: 'p2', score: 0.5, passage: { id: 'p2', text: 'Goodbye.', source: 'doc2.txt' } },
        ].slice(0, k),
    };
    const rag = new RagPipeline(model, tok, DEFAULT_PROMPT_FORMAT, search);
    const opts = { k: 2, generate: { maxNewTokens: 6 } };
    const pieces: string[] = [];
    const it = rag.stream('Hello?', opts);
    let r = await it.next();
    while (!r.done) {
      pieces.push(r.value);
      r = await it.next();
    }
    const { ids } = await rag.prepare('Hello?', opts);
    const ref = await generate(model, ids, { maxNewTokens: 6, tokenizer: tok });
    expect(pieces.join('').trim()).toBe(ref.texts![0].trim());
    expect(r.value.citations.map((c) => [c.id, c.source, c.rank])).toEqual([
      ['p1', 'doc1.txt', 1],
      ['p2', 'doc2.txt', 2],
    ]);
    const many = await rag.askMany(['Hello?'], opts);
    expect(many[0].answer).toBe(r.value.answer);
    model.dispose();
  });
});
