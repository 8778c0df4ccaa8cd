/**
 * Settings of the Hub client, read from the same environment variables Python's `huggingface_hub`
 * reads, so both share one cache, one token and one mirror.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface HubOptions {
  /** Hub (or mirror) base URL; `HF_ENDPOINT`, default https://huggingface.co. */
  endpoint: string;
  /** Access token for gated/private repos; `HF_TOKEN`, else the file `$HF_HOME/token` (`HF_TOKEN_PATH`). */
  token: string | null;
  /** Cache only, no network; `HF_HUB_OFFLINE=1`. */
  offline: boolean;
  /** The hub cache (`models--org--name/…` lives here); `HF_HUB_CACHE`, default `$HF_HOME/hub`. */
  cacheDir: string;
  /** Show a download progress bar on stderr (off with `HF_HUB_DISABLE_PROGRESS_BARS=1` or `DALM_PROGRESS=0`). */
  progress: boolean;
  /** Attempts per file when the connection drops mid-download (each resumes with an HTTP Range request). */
  maxAttempts: number;
  /** The fetch to use (tests, proxies). */
  fetch: typeof fetch;
}

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

const TRUE_VALUES = new Set(['1', 'on', 'yes', 'true']);

function truthy(v: string | undefined): boolean {
  return v !== undefined && TRUE_VALUES.has(v.trim().toLowerCase());
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** `$HF_HOME`, default `$XDG_CACHE_HOME/huggingface` or `~/.cache/huggingface` (as huggingface_hub.constants). */
export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HOME) return expandHome(env.HF_HOME);
  const xdg = env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
  return path.join(xdg, 'huggingface');
}

/** The hub cache directory: `HF_HUB_CACHE` (legacy `HUGGINGFACE_HUB_CACHE`), default `$HF_HOME/hub`. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE;
  return explicit ? expandHome(explicit) : path.join(hfHome(env), 'hub');
}

/** The token: `HF_TOKEN`, else the one `huggingface-cli login` saved (`HF_TOKEN_PATH`, default `$HF_HOME/token`). */
export function hubToken(env: NodeJS.ProcessEnv = process.env): string | null {
  const direct = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  if (direct !== undefined) return direct.trim() || null;
  const file = env.HF_TOKEN_PATH ? expandHome(env.HF_TOKEN_PATH) : path.join(hfHome(env), 'token');
  try {
    return existsSync(file) ? readFileSync(file, 'utf8').trim() || null : null;
  } catch {
    return null;
  }
}

/**
 * The Hub settings from the environment, with `overrides` on top. Read at each call (no global state).
 *
 * @example const opts = hubOptionsFromEnv(); opts.cacheDir; // ~/.cache/huggingface/hub
 */
export function hubOptionsFromEnv(
  overrides: Partial<HubOptions> = {},
  env: NodeJS.ProcessEnv = process.env,
): HubOptions {
  const opts: HubOptions = {
    endpoint: (env.HF_ENDPOINT || DEFAULT_HUB_ENDPOINT).replace(/\/+$/, ''),
    token: hubToken(env),
    offline: truthy(env.HF_HUB_OFFLINE),
    cacheDir: hubCacheDir(env),
    progress: !truthy(env.HF_HUB_DISABLE_PROGRESS_BARS) && env.DALM_PROGRESS !== '0',
    maxAttempts: 5,
    fetch: globalThis.fetch,
    ...overrides,
  };
  return validateHubOptions(opts);
}

/** Checks the settings; errors name the bad field. */
export function validateHubOptions(opts: HubOptions): HubOptions {
  let url: URL;
  try {
    url = new URL(opts.endpoint);
  } catch {
    throw new Error(
      `HF_ENDPOINT / endpoint: ${JSON.stringify(opts.endpoint)} is not a URL (e.g. https://huggingface.co or https://hf-mirror.com)`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`HF_ENDPOINT / endpoint: ${opts.endpoint} must be an http(s) URL`);
  if (!Number.isInteger(opts.maxAttempts) || opts.maxAttempts < 1)
    throw new Error(`hub maxAttempts: ${opts.maxAttempts} must be an integer >= 1`);
  if (!opts.cacheDir) throw new Error('HF_HUB_CACHE / cacheDir: empty path');
  return { ...opts, endpoint: opts.endpoint.replace(/\/+$/, '') };
}
