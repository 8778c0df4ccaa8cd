/**
 * Training a byte-level BPE tokenizer (GPT-2 style) for decoders.
 *
 * Texts are split on special tokens, pre-tokenized with the GPT-2 regex and
 * counted once; merges are then learned over the table of unique pre-tokens
 * (as UTF-8 bytes) with incremental pair counts. All 256 bytes are in the base
 * vocabulary, so any UTF-8 text encodes without an unknown token and decodes
 * back exactly.
 */
import { AddedTokenSplitter } from './added-tokens';
import { BYTE_TO_CHAR, byteLevelSplit, toByteChars } from './byte-level';
import { ByteLevelBPETokenizer, byteLevelBPEFiles, type DecoderSpecialTokens } from './byte-level-bpe';
import { learnMerges } from './merge-learner';

/** Options of {@link trainByteLevelBPE}. */
export interface ByteLevelBPETrainerConfig {
  /** Target vocabulary size: special tokens + 256 byte symbols + merges. */
  vocabSize: number;
  /** A pair must occur at least this often (summed over the corpus) to be merged. */
  minFrequency: number;
  /** Special tokens, given ids 0, 1, … in this order. */
  specialTokens: string[];
  /** Role of each special token; a role whose token is not in `specialTokens` is left out. */
  roles: DecoderSpecialTokens;
  /** Written to tokenizer_config.json when set. */
  modelMaxLength?: number;
}

export const DEFAULT_BPE_TRAINER_CONFIG: Readonly<Omit<ByteLevelBPETrainerConfig, 'vocabSize'>> = Object.freeze({
  minFrequency: 2,
  specialTokens: ['<unk>', '<s>', '</s>', '<pad>'],
  roles: { unk: '<unk>', bos: '<s>', eos: '</s>', pad: '<pad>' },
});

/** Fills defaults and checks every field; errors name the option. */
export function validateByteLevelBPETrainerConfig(
  options: Partial<ByteLevelBPETrainerConfig> & { vocabSize: number },
): ByteLevelBPETrainerConfig {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const c = { ...DEFAULT_BPE_TRAINER_CONFIG, ...given } as ByteLevelBPETrainerConfig;
  const specials = c.specialTokens;
  if (!Array.isArray(specials) || specials.some((t) => typeof t !== 'string' || t === '')) {
    throw new Error('trainByteLevelBPE: specialTokens must be an array of non-empty strings');
  }
  if (new Set(specials).size !== specials.length) throw new Error('trainByteLevelBPE: specialTokens has duplicates');
  const bytes = new Set(BYTE_TO_CHAR);
  for (const t of specials) {
    if (bytes.has(t))
      throw new Error(`trainByteLevelBPE: special token ${JSON.stringify(t)} collides with a byte symbol`);
  }
  const min = specials.length + 256;
  if (!Number.isInteger(c.vocabSize) || c.vocabSize < min) {
    throw new Error(
      `trainByteLevelBPE: vocabSize must be an integer >= ${min} (special tokens + 256 bytes), got ${c.vocabSize}`,
    );
  }
  if (!Number.isInteger(c.minFrequency) || c.minFrequency < 1) {
    throw new Error(`trainByteLevelBPE: minFrequency must be an integer >= 1, got ${c.minFrequency}`);
  }
  const roles: DecoderSpecialTokens = {};
  for (const [role, tok] of Object.entries(c.roles ?? {}) as Array<[keyof DecoderSpecialTokens, string | undefined]>) {
    if (tok !== undefined && specials.includes(tok)) roles[role] = tok;
  }
  return { ...c, roles };
}

/**
 * Trains a byte-level BPE tokenizer. Ids: special tokens first, then the 256
 * byte symbols in byte order, then merge results in the order learned.
 *
 * @example
 * const tok = trainByteLevelBPE(passages, { vocabSize: 4000 });
 * tok.decode(tok.encode('naïve 😀')) === 'naïve 😀';
 * await tok.save('runs/generator');
 */
export function trainByteLevelBPE(
  texts: Iterable<string>,
  options: Partial<ByteLevelBPETrainerConfig> & { vocabSize: number },
): ByteLevelBPETokenizer {
  const cfg = validateByteLevelBPETrainerConfig(options);
  const splitter = new AddedTokenSplitter(cfg.specialTokens.map((content, id) => ({ id, content, special: true })));
  // Count raw pre-tokens first; convert each distinct one to bytes once.
  const raw = new Map<string, number>();
  for (const text of texts) {
    for (const section of splitter.split(text)) {
      if (section.added) continue;
      for (const { text: piece } of byteLevelSplit(section.text)) raw.set(piece, (raw.get(piece) ?? 0) + 1);
    }
  }
  const byBytes = new Map<string, number>();
  for (const [piece, n] of raw) {
    const chars = toByteChars(piece);
    byBytes.set(chars, (byBytes.get(chars) ?? 0) + n);
  }
  const words: string[][] = [];
  const counts: number[] = [];
  for (const [chars, n] of byBytes) {
    words.push(Array.from(chars));
    counts.push(n);
  }
  const { merges, newSymbols } = learnMerges(
    { words, counts },
    {
      alphabet: [...BYTE_TO_CHAR],
      reserved: cfg.specialTokens,
      maxNewSymbols: cfg.vocabSize - cfg.specialTokens.length - 256,
      minFrequency: cfg.minFrequency,
      join: (a, b) => a + b,
    },
  );
  const { json, config } = byteLevelBPEFiles({
    vocab: [...cfg.specialTokens, ...BYTE_TO_CHAR, ...newSymbols],
    merges,
    addedTokens: cfg.specialTokens,
    special: cfg.roles,
    modelMaxLength: cfg.modelMaxLength,
  });
  return ByteLevelBPETokenizer.fromJSON(json, config);
}
