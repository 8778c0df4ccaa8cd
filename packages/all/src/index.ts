// @dalm/all: the whole public API of dalm-ts in one import, for users who want one dependency.
// Each section is one package's API; the packages can also be installed alone.

// --- @dalm/core: engine, tensors on disk, tokenizers, layers ---
export * from '@dalm/core';
// --- @dalm/retriever: encoders, ingestion, indexes, IR metrics ---
export * from '@dalm/retriever';
// --- @dalm/generator: decoders, generation, LoRA, RAG pipeline ---
export * from '@dalm/generator';
// --- @dalm/trainer: training loop, recipes, data preparation ---
export * from '@dalm/trainer';
// --- @dalm/server: the HTTP API and web page of `dalm serve` ---
export * from '@dalm/server';
