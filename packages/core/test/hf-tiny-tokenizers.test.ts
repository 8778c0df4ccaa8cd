/** Tokenizer parity with the hf-tiny fixtures: transformers.js loading, the native re-implementations, offsets, save. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WordPieceTokenizer, loadTokenizer, nativeTokenizerFromJSON, type Tokenizer } from '../src/index';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = path.join(path.resolve(repoRoot, '../shared'), 'fixtures/hf-tiny');
const MODELS = ['bert-tiny', 'gpt2-tiny', 'llama-tiny', 'qwen2-tiny'] as const;

interface Case {
  text: string;
  tokens: string[];
  ids: number[];
  decoded: string;
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dalm-tok-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!existsSync(fixtures))('hf-tiny tokenizers', () => {
  for (const model of MODELS) {
    describe(model, () => {
      const dir = path.join(fixtures, model);
      const isBert = model === 'bert-tiny';
      // BERT reference ids include [CLS]/[SEP]; the decoders' ids are encoded without special tokens.
      const opts = { addSpecialTokens: isBert };
      let cases: Case[];
      let tok: Tokenizer;
      beforeAll(async () => {
        cases = readJson(path.join(dir, 'reference.json')).tokenizer.cases;
        tok = await loadTokenizer(dir);
      });

      it('loadTokenizer (transformers.js) gives the reference ids, tokens and decoded text exactly', () => {
        expect(cases).toHaveLength(5);
        for (const c of cases) {
          const ids = tok.encode(c.text, opts);
          expect(ids, c.text).toEqual(c.ids);
          const textIds = isBert ? ids.slice(1, -1) : ids;
          expect(textIds.map((id) => tok.idToToken(id))).toEqual(c.tokens);
          expect(tok.decode(c.ids, { skipSpecialTokens: true })).toBe(c.decoded);
        }
      });

      it('reports vocabulary size and special-token ids', () => {
        expect(tok.vocabSize).toBe(isBert ? 99 : 136);
        expect(tok.special).toEqual(
          isBert ? { pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 } : { unk: 0, pad: 0, bos: 1, eos: 2 },
        );
        expect(tok.tokenToId(isBert ? '[SEP]' : '</s>')).toBe(isBert ? 3 : 2);
        expect(tok.idToToken(5)).toBe(isBert ? '!' : 'Ġ');
      });

      it('the native re-implementation gives the same ids and decoding', () => {
        const native = nativeTokenizerFromJSON(
          readJson(path.join(dir, 'tokenizer.json')),
          readJson(path.join(dir, 'tokenizer_config.json')),
        );
        expect(native).not.toBeNull();
        for (const c of cases) {
          expect(native!.encode(c.text, opts)).toEqual(c.ids);
          expect(native!.decode(c.ids, { skipSpecialTokens: true })).toBe(c.decoded);
          expect(native!.decode(c.ids)).toBe(tok.decode(c.ids));
        }
      });

      it('offsets point at the text each token came from', () => {
        expect(tok.supportsOffsets).toBe(true);
        for (const c of cases) {
          const { ids, offsets } = tok.encodeWithOffsets(c.text, opts);
          expect(ids).toEqual(c.ids);
          // [CLS]/[SEP] added by the template get [0, 0]; text tokens are ordered spans
          const textOffsets = isBert ? offsets.slice(1, -1) : offsets;
          if (isBert)
            expect([offsets[0], offsets[offsets.length - 1]]).toEqual([
              [0, 0],
              [0, 0],
            ]);
          textOffsets.forEach(([s, e], i) => {
            expect(s).toBeLessThanOrEqual(e);
            expect(e).toBeLessThanOrEqual(c.text.length);
            if (i > 0) expect(s).toBeGreaterThanOrEqual(textOffsets[i - 1][1]); // in order, never overlapping
          });
          if (isBert) {
            // each known piece is the lower-cased, accent-stripped text it spans ([UNK] spans a whole word)
            textOffsets.forEach(([s, e], i) => {
              const token = c.tokens[i];
              const src = c.text
                .slice(s, e)
                .toLowerCase()
                .normalize('NFD')
                .replace(/[\u0300-\u036f]/g, '');
              if (token !== '[UNK]') expect(src).toBe(token.replace(/^##/, ''));
            });
          }
          if (!isBert) {
            // byte-level: the spans tile the text exactly, in order
            offsets.forEach(([s], i) => expect(s).toBe(i === 0 ? 0 : offsets[i - 1][1]));
            expect(offsets.map(([s, e]) => c.text.slice(s, e)).join('')).toBe(c.text);
          }
        }
        if (isBert) {
          const { offsets } = tok.encodeWithOffsets('We love naïve café owners!');
          const text = 'We love naïve café owners!';
          expect(offsets.map(([s, e]) => text.slice(s, e))).toEqual([
            '',
            'We',
            'love',
            'naïve',
            'café',
            'own',
            'ers',
            '!',
            '',
          ]);
        } else {
          const text = 'Café €3 😀';
          const { ids, offsets } = tok.encodeWithOffsets(text, opts);
          // é and € are single merged tokens (hand-added merges); 😀 stays 4 byte tokens: the first owns the
          // character, the others get empty spans at its end
          expect(ids.map((id) => tok.idToToken(id))).toEqual([
            'C',
            'a',
            'f',
            'Ã©',
            'Ġ',
            'âĤ¬',
            '3',
            'Ġ',
            'ð',
            'Ł',
            'ĺ',
            'Ģ',
          ]);
          expect(offsets).toEqual([
            [0, 1],
            [1, 2],
            [2, 3],
            [3, 4],
            [4, 5],
            [5, 6],
            [6, 7],
            [7, 8],
            [8, 10],
            [10, 10],
            [10, 10],
            [10, 10],
          ]);
        }
      });

      it('save → loadTokenizer round-trips the files and the ids', async () => {
        const out = path.join(tmp, model);
        await tok.save(out);
        const again = await loadTokenizer(out);
        expect(again.toJSON()).toEqual(readJson(path.join(dir, 'tokenizer.json')));
        for (const c of cases) expect(again.encode(c.text, opts)).toEqual(c.ids);
        expect(existsSync(path.join(out, 'special_tokens_map.json'))).toBe(true);
      });
    });
  }

  it('loads a directory holding only tokenizer.json (no tokenizer_config.json)', async () => {
    const only = path.join(tmp, 'only-json');
    mkdirSync(only, { recursive: true });
    writeFileSync(path.join(only, 'tokenizer.json'), readFileSync(path.join(fixtures, 'gpt2-tiny/tokenizer.json')));
    const tok = await loadTokenizer(only);
    const c = (readJson(path.join(fixtures, 'gpt2-tiny/reference.json')).tokenizer.cases as Case[])[4];
    expect(tok.encode(c.text)).toEqual(c.ids);
    expect(tok.decode(c.ids)).toBe(c.text);
    expect(tok.special).toEqual({}); // roles come from tokenizer_config.json / special_tokens_map.json
  });

  it('bert-tiny vocab.txt through WordPieceTokenizer.fromVocab gives the same ids', () => {
    const dir = path.join(fixtures, 'bert-tiny');
    const vocab = readFileSync(path.join(dir, 'vocab.txt'), 'utf8').split('\n');
    if (vocab[vocab.length - 1] === '') vocab.pop();
    const tok = WordPieceTokenizer.fromVocab(vocab);
    for (const c of readJson(path.join(dir, 'reference.json')).tokenizer.cases as Case[])
      expect(tok.encode(c.text)).toEqual(c.ids);
  });
});

describe('loadTokenizer errors', () => {
  it('names the directory when tokenizer.json is missing, and the file when it is malformed', async () => {
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty, { recursive: true });
    await expect(loadTokenizer(empty)).rejects.toThrow(`${empty}: no tokenizer.json`);
    const bad = path.join(tmp, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(path.join(bad, 'tokenizer.json'), '{"model": ');
    await expect(loadTokenizer(bad)).rejects.toThrow(`${path.join(bad, 'tokenizer.json')}: malformed JSON`);
    writeFileSync(path.join(bad, 'tokenizer.json'), '{"version": "1.0"}');
    await expect(loadTokenizer(bad)).rejects.toThrow(`${path.join(bad, 'tokenizer.json')}: missing the "model" object`);
  });
});
