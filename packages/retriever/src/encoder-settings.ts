/**
 * How a bi-encoder turns texts into vectors around the transformer: the prefixes (sentence-
 * transformers' prompts) added before tokenising, truncation, pooling and normalisation. Saved with
 * the model (sentence-transformers files), so training, indexing and search apply the same settings.
 */
import { POOLING_MODES, type Pooling } from './pooling';

/** Pre- and post-processing of a bi-encoder. */
export interface EncoderSettings {
  /**
   * How token states become one vector: a mode (`mean`, `cls`, `max`, `mean_sqrt_len_tokens`,
   * `weightedmean`, `lasttoken`), or several whose vectors are concatenated.
   */
  pooling: Pooling;
  /** Pool over the prefix tokens too (sentence-transformers' `include_prompt`); false leaves them out. */
  includePrompt: boolean;
  /** L2-normalise every vector, so a dot product is the cosine similarity. */
  normalize: boolean;
  /** Text put before every query before tokenising (E5: `"query: "`; ST's `encode_query` prompt). */
  queryPrefix: string;
  /** Text put before every passage before tokenising (E5: `"passage: "`; ST's `encode_document` prompt). */
  passagePrefix: string;
  /** Text put before texts embedded as neither (ST's `default_prompt_name` prompt; `encode()`). */
  defaultPrefix: string;
  /** Longest input in tokens, special tokens included; longer texts are truncated. */
  maxLength: number;
  /** Lower-case texts before tokenising (sentence-transformers' `do_lower_case`; uncased tokenizers already do). */
  lowercase: boolean;
}

export const DEFAULT_ENCODER_SETTINGS: Readonly<EncoderSettings> = Object.freeze({
  pooling: 'mean',
  includePrompt: true,
  normalize: true,
  queryPrefix: '',
  passagePrefix: '',
  defaultPrefix: '',
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
  const modes = typeof s.pooling === 'string' ? [s.pooling] : s.pooling;
  if (
    !Array.isArray(modes) ||
    modes.length === 0 ||
    modes.some((m) => !POOLING_MODES.includes(m)) ||
    new Set(modes).size !== modes.length
  ) {
    throw new Error(
      `${source}: "pooling" must be one of ${POOLING_MODES.join(', ')} (or a list of distinct ones); got ${JSON.stringify(s.pooling)}`,
    );
  }
  if (Array.isArray(s.pooling)) s.pooling = s.pooling.length === 1 ? s.pooling[0]! : Object.freeze([...s.pooling]);
  for (const key of ['normalize', 'lowercase', 'includePrompt'] as const) {
    if (typeof s[key] !== 'boolean')
      throw new Error(`${source}: "${key}" must be true or false, got ${JSON.stringify(s[key])}`);
  }
  for (const key of ['queryPrefix', 'passagePrefix', 'defaultPrefix'] as const) {
    if (typeof s[key] !== 'string')
      throw new Error(`${source}: "${key}" must be a string, got ${JSON.stringify(s[key])}`);
  }
  if (!Number.isInteger(s.maxLength) || s.maxLength < 2) {
    throw new Error(`${source}: "maxLength" must be an integer >= 2, got ${JSON.stringify(s.maxLength)}`);
  }
  if (s.maxLength > maxPositions) {
    throw new Error(
      `${source}: "maxLength" (${s.maxLength}) exceeds the model's max_position_embeddings (${maxPositions})`,
    );
  }
  return s;
}
