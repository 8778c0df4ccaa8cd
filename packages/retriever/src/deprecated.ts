/**
 * Old names kept for one release so code written against 0.x keeps compiling; each says what
 * replaced it. `IndexConfig` held HNSW parameters only (the exact index has `ExactIndexConfig`).
 */
import { DEFAULT_HNSW_INDEX_CONFIG, validateHnswIndexConfig, type HnswIndexConfig } from './hnsw-index';

/** @deprecated Renamed to {@link HnswIndexConfig} (it holds HNSW parameters only). */
export type IndexConfig = HnswIndexConfig;
/** @deprecated Renamed to {@link DEFAULT_HNSW_INDEX_CONFIG}. */
export const DEFAULT_INDEX_CONFIG = DEFAULT_HNSW_INDEX_CONFIG;
/** @deprecated Renamed to {@link validateHnswIndexConfig}. */
export const validateIndexConfig = validateHnswIndexConfig;
