/** Settings of `dalm serve`: where it listens and the limits that keep one client from starving the rest. */

export interface ServerConfig {
  /** Interface to listen on (default 127.0.0.1: this machine only). */
  host: string;
  /** Port (0: any free port). */
  port: number;
  /** Largest request body, in bytes (larger: 413). */
  maxBodyBytes: number;
  /** Longest question / query / message, in characters (longer: 400 naming the field). */
  maxQuestionChars: number;
  /** Largest `max_tokens` / `maxNewTokens` a request may ask for (larger: 400). */
  maxTokens: number;
  /** Generations running at once; more wait in the queue. */
  maxConcurrent: number;
  /** Generations waiting for a slot; a request beyond that gets 429. */
  maxQueue: number;
  /** Passages retrieved when a request does not say (`k`). */
  k: number;
  /** Tokens generated when a request does not say. */
  defaultMaxTokens: number;
  /** Directory whose training runs the web page lists (null: no runs view). */
  runs: string | null;
}

export const DEFAULT_SERVER_CONFIG: Readonly<ServerConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  maxBodyBytes: 64 * 1024,
  maxQuestionChars: 2000,
  maxTokens: 512,
  maxConcurrent: 1,
  maxQueue: 16,
  k: 3,
  defaultMaxTokens: 64,
  runs: null,
});

/** Fills defaults and checks every field, naming the bad one. */
export function validateServerConfig(c: Partial<ServerConfig> = {}): ServerConfig {
  const out: ServerConfig = {
    ...DEFAULT_SERVER_CONFIG,
    ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)),
  };
  if (typeof out.host !== 'string' || out.host === '')
    throw new Error(`server: host must be a host name or address, got ${JSON.stringify(out.host)}`);
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535)
    throw new Error(`server: port must be a whole number in 0..65535, got ${out.port}`);
  const positive: (keyof ServerConfig)[] = [
    'maxBodyBytes',
    'maxQuestionChars',
    'maxTokens',
    'maxConcurrent',
    'k',
    'defaultMaxTokens',
  ];
  for (const f of positive) {
    const v = out[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw new Error(`server: ${f} must be a whole number of at least 1, got ${v}`);
  }
  if (!Number.isInteger(out.maxQueue) || out.maxQueue < 0)
    throw new Error(`server: maxQueue must be a whole number of at least 0, got ${out.maxQueue}`);
  if (out.defaultMaxTokens > out.maxTokens)
    throw new Error(`server: defaultMaxTokens (${out.defaultMaxTokens}) must not exceed maxTokens (${out.maxTokens})`);
  return Object.freeze(out) as ServerConfig;
}
