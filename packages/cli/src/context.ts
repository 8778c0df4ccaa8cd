/** Shared plumbing of the commands: engine start, loading artifacts, output. */
import type { Command } from 'commander';
import { initEngine, trainByteLevelBPE, trainWordPiece } from '@dalm/core';
import { createEncoder, IndexDir, loadEncoder, loadPassages, recordedRetriever, type Encoder, type Passage } from '@dalm/retriever';
import { createCausalLM, DEFAULT_PROMPT_FORMAT, type LoadedGenerator } from '@dalm/generator';
import { engineOption, type GlobalOptions } from './global';
import { DECODER_PRESETS, ENCODER_PRESETS, MODEL_SIZES, type ModelSize } from './presets';

export async function startEngine(cmd: Command): Promise<void> {
  await initEngine({ backend: engineOption(cmd.optsWithGlobals() as GlobalOptions) });
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function checkSize(size: string): ModelSize {
  if (!(MODEL_SIZES as readonly string[]).includes(size)) throw new Error(`--size must be one of ${MODEL_SIZES.join(', ')}, got "${size}"`);
  return size as ModelSize;
}

/** Opens an index directory with the retriever given, else the one recorded in it, else BM25 only. */
export async function openIndex(indexDir: string, retrieverDir?: string): Promise<{ index: IndexDir; encoder: Encoder | null }> {
  const dir = retrieverDir ?? (await recordedRetriever(indexDir));
  const encoder = dir ? await loadEncoder(dir) : null;
  return { index: await IndexDir.open(indexDir, encoder), encoder };
}

/** A from-scratch encoder with a WordPiece tokenizer trained on `texts`. */
export function scratchEncoder(texts: string[], size: ModelSize, seed: number): Encoder {
  const p = ENCODER_PRESETS[size];
  const { vocab, maxLength, ...config } = p;
  const tokenizer = trainWordPiece(texts, { vocabSize: vocab });
  return createEncoder({ tokenizer, config, settings: { maxLength, pooling: 'mean', normalize: true }, seed });
}

/** A from-scratch decoder with a byte-level BPE tokenizer trained on `texts`. */
export function scratchGenerator(texts: string[], size: ModelSize, seed: number): LoadedGenerator {
  const { vocab, ...config } = DECODER_PRESETS[size];
  const tokenizer = trainByteLevelBPE(texts, { vocabSize: vocab });
  const model = createCausalLM(
    {
      model_type: 'llama',
      ...config,
      vocab_size: tokenizer.vocabSize,
      tie_word_embeddings: true,
      bos_token_id: tokenizer.special.bos,
      eos_token_id: tokenizer.special.eos,
      pad_token_id: tokenizer.special.pad,
    },
    seed,
  );
  return { model, tokenizer, format: { ...DEFAULT_PROMPT_FORMAT }, lora: null };
}

/** Passages of a corpus given as a file/dir, kept whole per record (ids preserved). */
export async function corpusPassages(source: string): Promise<Passage[]> {
  return loadPassages(source, { chunk: null });
}
