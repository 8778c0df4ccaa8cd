/**
 * Training a WordPiece tokenizer (BERT style) for encoders.
 *
 * Texts are normalized (BertNormalizer), split with the BertPreTokenizer and
 * counted once; the vocabulary is then grown with BPE merges over the word
 * table, where every non-initial symbol carries the `##` prefix (the way the
 * tokenizers library trains WordPiece). Encoding uses WordPiece's greedy
 * longest-match over the resulting vocabulary.
 */
import { AddedTokenSplitter } from './added-tokens';
import { bertNormalize, bertPreTokenize, type BertNormalizerOptions } from './bert-normalizer';
import { learnMerges } from './merge-learner';
import { DEFAULT_BERT_SPECIAL_TOKENS, WordPieceTokenizer, wordPieceFiles, type BertSpecialTokens } from './wordpiece';

/** Options of {@link trainWordPiece}. */
export interface WordPieceTrainerConfig {
  /** Target vocabulary size, special tokens and alphabet included (never exceeded). */
  vocabSize: number;
  /** A pair must occur at least this often (summed over the corpus) to be merged. */
  minFrequency: number;
  /** Lowercase the text. */
  lowercase: boolean;
  /** Strip accents; null follows `lowercase` (BERT uncased). */
  stripAccents: boolean | null;
  /** Special tokens by role; ids 0..4 in the order pad, unk, cls, sep, mask. */
  specialTokens: BertSpecialTokens;
  /** Keep at most this many distinct characters (most frequent first); also capped so the alphabet fits vocabSize. */
  limitAlphabet: number;
  /** Prefix of non-initial pieces. */
  continuingSubwordPrefix: string;
  /** Longer words are not learned from and encode as the unk token. */
  maxInputCharsPerWord: number;
  /** Written to tokenizer_config.json when set. */
  modelMaxLength?: number;
}

export const DEFAULT_WORDPIECE_TRAINER_CONFIG: Readonly<Omit<WordPieceTrainerConfig, 'vocabSize'>> = Object.freeze({
  minFrequency: 2,
  lowercase: true,
  stripAccents: null,
  specialTokens: DEFAULT_BERT_SPECIAL_TOKENS,
  limitAlphabet: 1000,
  continuingSubwordPrefix: '##',
  maxInputCharsPerWord: 100,
});

/** Fills defaults and checks every field; errors name the option. */
export function validateWordPieceTrainerConfig(
  options: Partial<Omit<WordPieceTrainerConfig, 'specialTokens'>> & {
    vocabSize: number;
    specialTokens?: Partial<BertSpecialTokens>;
  },
): WordPieceTrainerConfig {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const c = { ...DEFAULT_WORDPIECE_TRAINER_CONFIG, ...given } as WordPieceTrainerConfig;
  c.specialTokens = { ...DEFAULT_BERT_SPECIAL_TOKENS, ...options.specialTokens };
  const specials = Object.values(c.specialTokens);
  if (specials.some((t) => typeof t !== 'string' || t === '') || new Set(specials).size !== specials.length) {
    throw new Error('trainWordPiece: specialTokens must be 5 distinct non-empty strings (pad, unk, cls, sep, mask)');
  }
  if (!Number.isInteger(c.vocabSize) || c.vocabSize < specials.length + 2) {
    throw new Error(`trainWordPiece: vocabSize must be an integer >= ${specials.length + 2}, got ${c.vocabSize}`);
  }
  if (!Number.isInteger(c.minFrequency) || c.minFrequency < 1) {
    throw new Error(`trainWordPiece: minFrequency must be an integer >= 1, got ${c.minFrequency}`);
  }
  if (typeof c.lowercase !== 'boolean') throw new Error('trainWordPiece: lowercase must be true or false');
  if (c.stripAccents !== null && typeof c.stripAccents !== 'boolean')
    throw new Error('trainWordPiece: stripAccents must be true, false or null');
  if (!Number.isInteger(c.limitAlphabet) || c.limitAlphabet < 1)
    throw new Error(`trainWordPiece: limitAlphabet must be an integer >= 1, got ${c.limitAlphabet}`);
  if (typeof c.continuingSubwordPrefix !== 'string' || c.continuingSubwordPrefix === '') {
    throw new Error('trainWordPiece: continuingSubwordPrefix must be a non-empty string');
  }
  if (!Number.isInteger(c.maxInputCharsPerWord) || c.maxInputCharsPerWord < 1) {
    throw new Error(`trainWordPiece: maxInputCharsPerWord must be an integer >= 1, got ${c.maxInputCharsPerWord}`);
  }
  return c;
}

/**
 * Trains a BERT WordPiece tokenizer. Ids: the 5 special tokens, then each
 * alphabet character c (by code point), then each `##c`, then learned pieces.
 *
 * @example
 * const tok = trainWordPiece(passages, { vocabSize: 8000 });
 * tok.encode('Coronavirus'); // [2, …, 3]  ([CLS] … [SEP])
 */
export function trainWordPiece(
  texts: Iterable<string>,
  options: Partial<Omit<WordPieceTrainerConfig, 'specialTokens'>> & {
    vocabSize: number;
    specialTokens?: Partial<BertSpecialTokens>;
  },
): WordPieceTokenizer {
  const cfg = validateWordPieceTrainerConfig(options);
  const st = cfg.specialTokens;
  const specials = [st.pad, st.unk, st.cls, st.sep, st.mask];
  const normalizer: BertNormalizerOptions = {
    cleanText: true,
    handleChineseChars: true,
    stripAccents: cfg.stripAccents,
    lowercase: cfg.lowercase,
  };
  const splitter = new AddedTokenSplitter(specials.map((content, id) => ({ id, content, special: true })));
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const section of splitter.split(text)) {
      if (section.added) continue;
      for (const { text: w } of bertPreTokenize(bertNormalize(section.text, normalizer))) {
        wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
      }
    }
  }
  // Alphabet: the most frequent characters, capped so that c and ##c of each fit the budget.
  const charCounts = new Map<string, number>();
  for (const [w, n] of wordCounts) for (const ch of w) charCounts.set(ch, (charCounts.get(ch) ?? 0) + n);
  const limit = Math.min(cfg.limitAlphabet, Math.floor((cfg.vocabSize - specials.length) / 2));
  const byCodePoint = (a: string, b: string): number => (a.codePointAt(0) as number) - (b.codePointAt(0) as number);
  const alphabet = [...charCounts.entries()]
    .sort((a, b) => b[1] - a[1] || byCodePoint(a[0], b[0]))
    .slice(0, limit)
    .map(([ch]) => ch)
    .sort(byCodePoint);
  const inAlphabet = new Set(alphabet);
  const prefix = cfg.continuingSubwordPrefix;
  const symbols = [...alphabet, ...alphabet.map((c) => prefix + c)];

  const words: string[][] = [];
  const counts: number[] = [];
  for (const [w, n] of wordCounts) {
    const chars = [...w];
    if (chars.length > cfg.maxInputCharsPerWord || chars.some((c) => !inAlphabet.has(c))) continue;
    words.push(chars.map((c, i) => (i === 0 ? c : prefix + c)));
    counts.push(n);
  }
  const { newSymbols } = learnMerges(
    { words, counts },
    {
      alphabet: symbols,
      reserved: specials,
      maxNewSymbols: cfg.vocabSize - specials.length - symbols.length,
      minFrequency: cfg.minFrequency,
      join: (left, right) => left + right.slice(prefix.length),
    },
  );
  const { json, config } = wordPieceFiles({
    vocab: [...specials, ...symbols, ...newSymbols],
    addedTokens: specials,
    special: st,
    normalizer,
    continuingSubwordPrefix: prefix,
    maxInputCharsPerWord: cfg.maxInputCharsPerWord,
    modelMaxLength: cfg.modelMaxLength,
  });
  return WordPieceTokenizer.fromJSON(json, config);
}
