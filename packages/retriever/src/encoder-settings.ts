/**
 * How a bi-encoder turns texts into vectors around the transformer: the prefixes added before
 * tokenising, truncation, pooling and normalisation. Saved with the model (sentence-transformers
 * files), so training, indexing and search apply the same settings.
 */
import { POOLING_MODES, type PoolingMode } from './pooling';

/** Pre- and post-processing of a bi-encoder. */
export interface EncoderSettings {
  /** How token states become one vector: `mean` (masked), `cls` or `max` (masked). */
  pooling: PoolingMode;
  /** L2-normalise every vector, so a dot product is the cosine similarity. */
  normalize: boolean;
  /** Text put before every query before tokenising (E5: `"query: "`). */
  queryPrefix: string;
  /** Text put before every passage before tokenising (E5: `"passage: "`). */
  passagePrefix: string;
  /** Longest input in tokens, special tokens included; longer texts are truncated. */
  maxLength: number;
  /** Lower-case texts before tokenising (sentence-transformers' `do_lower_case`; uncased tokenizers already do). */
  lowercase: boolean;
}

export const DEFAULT_ENCODER_SETTINGS: Readonly<EncoderSettings> = Object.freeze({
  pooling: 'mean',
  normalize: true,
  queryPrefix: '',
  passagePrefix: '',
  maxLength: 256,
  lowercase: false,
});

/**
 * Fills missing fields from DEFAULT_ENCODER_SETTINGS and checks them; `maxPositions` (the model's
 * `max_position_embeddings`) bounds `maxLength`. Errors name the field and the valid values.
 *
 * @example
 * const s = validateEncoderSettings({ pooling: 'cls', queryPrefix: 'query: ' }, 512);
 */
export function validateEncoderSettings(
  raw: Partial<EncoderSettings> = {},
  maxPositions = Infinity,
  source = 'EncoderSettings',
): EncoderSettings {
  const s: EncoderSettings = { ...DEFAULT_ENCODER_SETTINGS };
  for (const key of Object.keys(DEFAULT_ENCODER_SETTINGS) as (keyof EncoderSettings)[]) {
    if (raw[key] !== undefined) (s as unknown as Record<string, unknown>)[key] = raw[key];
  }
  if (!POOLING_MODES.includes(s.pooling)) {
    throw new Error(`${source}: "pooling" must be one of ${POOLING_MODES.join(', ')}; got ${JSON.stringify(s.pooling)}`);
  }
  for (const key of ['normalize', 'lowercase'] as const) {
    if (typeof s[key] !== 'boolean') throw new Error(`${source}: "${key}" must be true or false, got ${JSON.stringify(s[key])}`);
  }
  for (const key of ['queryPrefix', 'passagePrefix'] as const) {
    if (typeof s[key] !== 'string') throw new Error(`${source}: "${key}" must be a string, got ${JSON.stringify(s[key])}`);
  }
  if (!Number.isInteger(s.maxLength) || s.maxLength < 2) {
    throw new Error(`${source}: "maxLength" must be an integer >= 2, got ${JSON.stringify(s.maxLength)}`);
  }
  if (s.maxLength > maxPositions) {
    throw new Error(`${source}: "maxLength" (${s.maxLength}) exceeds the model's max_position_embeddings (${maxPositions})`);
  }
  return s;
}
