/**
 * One cache for Python and TypeScript: Python's huggingface_hub (`hf_hub_download`, run by
 * scripts/reference/hf_hub_cache_interop.py against the same local Hub stand-in) fills a cache
 * that resolveModel then reads offline and online without transferring a file; and the files
 * resolveModel downloaded are found by Python's `try_to_load_from_cache` at the same paths.
 * Skips unless the reference venv's python (DALM_PYREF, default ~/.cache/dalm/pyref; or DALM_PYTHON) has huggingface_hub.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pyrefDir } from '../../../test/reference-paths';
import { promisify } from 'node:util';
import { resolveModel } from '@dalm/core';
import { FakeHub } from '../../../test/helpers/fake-hub';

const repoRoot = path.resolve(__dirname, '../../..');
const HF_TINY = path.resolve(repoRoot, '../shared/fixtures/hf-tiny');
const SCRIPT = path.join(repoRoot, 'scripts/reference/hf_hub_cache_interop.py');
const PYTHON = process.env.DALM_PYTHON ?? path.join(pyrefDir(), 'bin', 'python');
const MODEL_FILES = [
  'config.json',
  'model.safetensors',
  'special_tokens_map.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.txt',
];
const LLAMA_FILES = [
  'config.json',
  'generation_config.json',
  'merges.txt',
  'model.safetensors',
  'special_tokens_map.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
];

function pythonHub(): string | null {
  if (!existsSync(PYTHON))
    return `${PYTHON} not found (set DALM_PYTHON to a python with huggingface_hub: pip install huggingface_hub)`;
  const r = spawnSync(PYTHON, ['-c', 'import huggingface_hub; print(huggingface_hub.__version__)'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return r.status === 0 ? null : `${PYTHON} has no huggingface_hub (pip install huggingface_hub)`;
}
const missing = pythonHub();
if (missing) console.warn(`hub-python-interop: skipped: ${missing}`);

interface PyResult {
  huggingface_hub: string;
  files: Record<string, { path: string | null; sha256: string | null }>;
}

async function py(
  mode: 'download' | 'lookup',
  repo: string,
  files: string[],
  env: Record<string, string>,
  tmp: string,
): Promise<PyResult> {
  const out = path.join(tmp, `py-${mode}-${Date.now()}.json`);
  // Async: the Hub stand-in runs in this process and must keep answering.
  await promisify(execFile)(PYTHON, [SCRIPT, mode, '--repo', repo, '--out', out, ...files], {
    env: {
      ...process.env,
      HF_HUB_DISABLE_TELEMETRY: '1',
      HF_HUB_DISABLE_XET: '1',
      HF_HUB_DISABLE_PROGRESS_BARS: '1',
      HF_TOKEN: '',
      ...env,
    },
    timeout: 120_000,
  });
  return JSON.parse(readFileSync(out, 'utf8')) as PyResult;
}

describe.skipIf(missing !== null)('the HF cache is shared with Python huggingface_hub', () => {
  let hub: FakeHub;
  let tmp: string;
  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'dalm-pyhub-'));
    hub = await new FakeHub({
      repos: {
        'test-org/bert-tiny': { dir: path.join(HF_TINY, 'bert-tiny') },
        'test-org/llama-tiny': { dir: path.join(HF_TINY, 'llama-tiny') },
      },
    }).start();
  });
  afterAll(async () => {
    await hub?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('what hf_hub_download fetched, resolveModel reads offline, and online without a transfer', async () => {
    const cache = path.join(tmp, 'cache-py');
    const res = await py(
      'download',
      'test-org/bert-tiny',
      MODEL_FILES,
      { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache },
      tmp,
    );
    const snap = path.join(cache, 'models--test-org--bert-tiny', 'snapshots', hub.commit('test-org/bert-tiny'));
    for (const f of MODEL_FILES) expect(res.files[f].path).toBe(path.join(snap, f));
    const opts = { endpoint: hub.url, cacheDir: cache, progress: false, token: null };
    expect(await resolveModel('test-org/bert-tiny', { ...opts, offline: true })).toBe(snap);
    const before = hub.requests.length;
    expect(await resolveModel('test-org/bert-tiny', { ...opts, offline: false })).toBe(snap);
    // Only the two API calls: every blob Python wrote had the name and place we look for.
    expect(hub.requests.slice(before).every((r) => r.path.startsWith('/api/models/'))).toBe(true);
  });

  it('what resolveModel fetched, try_to_load_from_cache finds at the same paths', async () => {
    const cache = path.join(tmp, 'cache-ts');
    const snap = await resolveModel('test-org/llama-tiny', {
      endpoint: hub.url,
      cacheDir: cache,
      progress: false,
      token: null,
      offline: false,
    });
    const res = await py(
      'lookup',
      'test-org/llama-tiny',
      LLAMA_FILES,
      { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' },
      tmp,
    );
    for (const f of LLAMA_FILES) {
      expect(res.files[f].path, f).toBe(path.join(snap, f));
      expect(res.files[f].sha256).toBe(
        createHash('sha256')
          .update(readFileSync(path.join(HF_TINY, 'llama-tiny', f)))
          .digest('hex'),
      );
    }
    // And hf_hub_download offline returns them too (it reads refs/main as we wrote it).
    const dl = await py(
      'download',
      'test-org/llama-tiny',
      ['model.safetensors'],
      { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' },
      tmp,
    );
    expect(dl.files['model.safetensors'].path).toBe(path.join(snap, 'model.safetensors'));
  });
});
