// @dalm/server: the HTTP API and web page of `dalm serve`, over one loaded RAG pipeline.
export type { ServerConfig } from './config';
export { DEFAULT_SERVER_CONFIG, validateServerConfig } from './config';
export { GenerationGate, QueueFullError } from './gate';
export { TrimmedStream } from './trimmed-stream';
export type { ServeModels, ServeModelsOptions } from './load';
export { loadServeModels, serveModelsFrom } from './load';
export type { RunningServer } from './app';
export { createServer, startServer } from './app';
