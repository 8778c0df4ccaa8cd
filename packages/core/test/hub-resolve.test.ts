/**
 * resolveModel against a local Hub stand-in (test/helpers/fake-hub.ts) serving the hf-tiny
 * fixtures: the cache it fills has Python huggingface_hub's layout, hits need no server, offline
 * mode names what is missing, a dropped download resumes with Range, corrupt bytes are refused,
 * gated repos need HF_TOKEN, and only the files a model needs are fetched.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveModel, cachedFile, parseModelId, hubOptionsFromEnv, repoFolderName, type HubOptions } from '@dalm/core';
import { FakeHub, fakeCommit } from '../../../test/helpers/fake-hub';
import { httpError } from '../src/io/hub/hub-errors';

const repoRoot = path.resolve(__dirname, '../../..');
const HF_TINY = path.resolve(repoRoot, '../shared/fixtures/hf-tiny');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function listTree(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (lstatSync(path.join(dir, rel)).isDirectory()) out.push(...listTree(dir, rel));
    else out.push(rel);
  }
  return out;
}

describe('resolveModel against a local Hub', () => {
  let hub: FakeHub;
  let tmp: string;
  let opts: Partial<HubOptions>;
  const TOKEN = 'hf_test_token_123';

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'dalm-hub-'));
    // A repo with everything a sentence-transformers model can carry, plus files a download must skip.
    const st = path.join(tmp, 'repo-st');
    mkdirSync(path.join(st, '1_Pooling'), { recursive: true });
    mkdirSync(path.join(st, '2_Dense'), { recursive: true });
    mkdirSync(path.join(st, 'onnx'), { recursive: true });
    const files: Record<string, string> = {
      'config.json': '{"model_type":"bert"}',
      'model.safetensors.index.json': JSON.stringify({
        metadata: {},
        weight_map: {
          a: 'model-00001-of-00002.safetensors',
          b: 'model-00002-of-00002.safetensors',
          c: 'model-00001-of-00002.safetensors',
        },
      }),
      'model-00001-of-00002.safetensors': 'shard one bytes',
      'model-00002-of-00002.safetensors': 'shard two bytes',
      'pytorch_model.bin': 'pickle',
      'onnx/model.onnx': 'onnx',
      'README.md': '# card',
      'modules.json': '[]',
      'sentence_bert_config.json': '{"max_seq_length":128}',
      '1_Pooling/config.json': '{"pooling_mode_mean_tokens":true}',
      '2_Dense/config.json': '{"in_features":4}',
      '2_Dense/model.safetensors': 'dense weights',
      '2_Dense/pytorch_model.bin': 'pickle',
      'tokenizer.json': '{}',
    };
    for (const [f, c] of Object.entries(files)) writeFileSync(path.join(st, f), c);
    const gguf = path.join(tmp, 'repo-gguf');
    mkdirSync(gguf);
    writeFileSync(path.join(gguf, 'tiny-q4_k_m.gguf'), 'GGUF q4');
    writeFileSync(path.join(gguf, 'tiny-f16.gguf'), 'GGUF f16');
    writeFileSync(path.join(gguf, 'README.md'), '# gguf');
    hub = await new FakeHub({
      token: TOKEN,
      repos: {
        'test-org/bert-tiny': {
          dir: path.join(HF_TINY, 'bert-tiny'),
          revisions: { main: fakeCommit('bert main'), v1: fakeCommit('bert v1') },
        },
        'test-org/llama-tiny': { dir: path.join(HF_TINY, 'llama-tiny') },
        'test-org/qwen2-tiny': { dir: path.join(HF_TINY, 'qwen2-tiny') },
        'test-org/gated-gpt2': { dir: path.join(HF_TINY, 'gpt2-tiny'), gated: true },
        'test-org/st-sharded': { dir: st },
        'test-org/gguf-only': { dir: gguf },
      },
    }).start();
  });
  afterAll(async () => {
    await hub?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });
  beforeEach(() => {
    opts = {
      endpoint: hub.url,
      cacheDir: mkdtempSync(path.join(tmp, 'cache-')),
      progress: false,
      token: null,
      offline: false,
    };
  });

  it('downloads into the Hugging Face cache layout, only the model files, byte-identical', async () => {
    const dir = await resolveModel('test-org/bert-tiny', opts);
    const commit = hub.commit('test-org/bert-tiny');
    const repoDir = path.join(opts.cacheDir!, 'models--test-org--bert-tiny');
    expect(dir).toBe(path.join(repoDir, 'snapshots', commit));
    expect(readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8')).toBe(commit); // no newline, as Python writes it
    // reference.json is a test artefact, not a model file: not fetched.
    expect(listTree(dir)).toEqual([
      'config.json',
      'model.safetensors',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'vocab.txt',
    ]);
    for (const f of listTree(dir)) {
      expect(lstatSync(path.join(dir, f)).isSymbolicLink()).toBe(true);
      expect(readFileSync(path.join(dir, f)).equals(readFileSync(path.join(HF_TINY, 'bert-tiny', f)))).toBe(true);
    }
    // LFS blob named by sha256, small files by git sha1; links relative to ../../blobs.
    expect(readlinkSync(path.join(dir, 'model.safetensors'))).toBe(
      `../../blobs/${hub.sha256('test-org/bert-tiny', 'model.safetensors')}`,
    );
    expect(readlinkSync(path.join(dir, 'config.json'))).toBe(
      `../../blobs/${hub.gitOid('test-org/bert-tiny', 'config.json')}`,
    );
    expect(readdirSync(path.join(repoDir, 'blobs')).filter((f) => f.endsWith('.incomplete'))).toEqual([]);

    // Second call: a cache hit, no file transferred again (only the two API calls).
    const before = hub.requests.length;
    expect(await resolveModel('test-org/bert-tiny', opts)).toBe(dir);
    expect(hub.requests.slice(before).map((r) => r.path.split('/').slice(0, 3).join('/'))).toEqual([
      '/api/models',
      '/api/models',
    ]);

    // Offline: no request at all.
    const n = hub.requests.length;
    expect(await resolveModel('test-org/bert-tiny', { ...opts, offline: true })).toBe(dir);
    expect(hub.requests.length).toBe(n);
    expect(await cachedFile(opts.cacheDir!, 'test-org/bert-tiny', 'vocab.txt')).toBe(path.join(dir, 'vocab.txt'));
  });

  it('two concurrent loads of one model share the transfer (a lock per blob), both get the same snapshot', async () => {
    const [a, b] = await Promise.all([
      resolveModel('test-org/qwen2-tiny', opts),
      resolveModel('test-org/qwen2-tiny', opts),
    ]);
    expect(a).toBe(b);
    expect(hub.byteRequests('test-org/qwen2-tiny', 'model.safetensors').length).toBe(1);
    expect(
      readFileSync(path.join(a, 'model.safetensors')).equals(
        readFileSync(path.join(HF_TINY, 'qwen2-tiny', 'model.safetensors')),
      ),
    ).toBe(true);
    expect(readdirSync(path.join(opts.cacheDir!, '.locks', 'models--test-org--qwen2-tiny'))).toEqual([]);
  });

  it('revisions: a tag gets its own ref and snapshot, a commit sha none', async () => {
    const v1 = hub.commit('test-org/bert-tiny', 'v1');
    const dir = await resolveModel('test-org/bert-tiny@v1', opts);
    const repoDir = path.join(opts.cacheDir!, 'models--test-org--bert-tiny');
    expect(dir).toBe(path.join(repoDir, 'snapshots', v1));
    expect(readFileSync(path.join(repoDir, 'refs', 'v1'), 'utf8')).toBe(v1);
    const main = hub.commit('test-org/bert-tiny');
    expect(await resolveModel(`test-org/bert-tiny@${main}`, opts)).toBe(path.join(repoDir, 'snapshots', main));
    expect(readdirSync(path.join(repoDir, 'refs'))).toEqual(['v1']);
    // Same contents under both commits: the blobs are shared, not stored twice.
    expect(readdirSync(path.join(repoDir, 'blobs')).length).toBe(6);
    await expect(resolveModel('test-org/bert-tiny@nope', opts)).rejects.toThrow(
      /test-org\/bert-tiny@nope: no such revision/,
    );
  });

  it('a cache hit works with the server stopped; offline misses name the missing file', async () => {
    const local = await new FakeHub({
      repos: { 'test-org/llama-tiny': { dir: path.join(HF_TINY, 'llama-tiny') } },
    }).start();
    const o = { ...opts, endpoint: local.url };
    const dir = await resolveModel('test-org/llama-tiny', o);
    await local.stop();
    expect(await resolveModel('test-org/llama-tiny', o)).toBe(dir); // connection refused -> the cached snapshot
    await expect(resolveModel('test-org/qwen2-tiny', o)).rejects.toThrow(
      /cannot reach .*ECONNREFUSED.*not in the cache/,
    );
    await expect(resolveModel('test-org/qwen2-tiny', { ...o, offline: true })).rejects.toThrow(
      /HF_HUB_OFFLINE=1: test-org\/qwen2-tiny@main is not in the cache .*models--test-org--qwen2-tiny \(no refs\/main\)/,
    );
    rmSync(path.join(dir, 'model.safetensors'));
    await expect(resolveModel('test-org/llama-tiny', { ...o, offline: true })).rejects.toThrow(
      /HF_HUB_OFFLINE=1: test-org\/llama-tiny@main: model\.safetensors is not in the cache/,
    );
  });

  it('a connection dropped mid-file is resumed with an HTTP Range request, byte-identical', async () => {
    const file = 'model.safetensors';
    const full = readFileSync(path.join(HF_TINY, 'llama-tiny', file));
    hub.dropOnce('test-org/llama-tiny', file);
    const dir = await resolveModel('test-org/llama-tiny', opts);
    const gets = hub.byteRequests('test-org/llama-tiny', file);
    expect(gets.length).toBe(2);
    expect(gets[0].range).toBeNull();
    const from = Number(/^bytes=(\d+)-$/.exec(gets[1].range ?? '')?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThan(full.length);
    expect(sha256(readFileSync(path.join(dir, file)))).toBe(sha256(full));
  });

  it('a partial download left by an earlier process is resumed from its length', async () => {
    const file = 'model.safetensors';
    const full = readFileSync(path.join(HF_TINY, 'bert-tiny', file));
    const blobs = path.join(opts.cacheDir!, 'models--test-org--bert-tiny', 'blobs');
    mkdirSync(blobs, { recursive: true });
    writeFileSync(path.join(blobs, `${sha256(full)}.incomplete`), full.subarray(0, 1000));
    const before = hub.byteRequests('test-org/bert-tiny', file).length;
    const dir = await resolveModel('test-org/bert-tiny', opts);
    const gets = hub.byteRequests('test-org/bert-tiny', file).slice(before);
    expect(gets.map((g) => g.range)).toEqual(['bytes=1000-']);
    expect(readFileSync(path.join(dir, file)).equals(full)).toBe(true);
  });

  it('wrong bytes for an LFS file are refused by sha256, and nothing is kept', async () => {
    hub.corrupt('test-org/qwen2-tiny', 'model.safetensors');
    await expect(resolveModel('test-org/qwen2-tiny', opts)).rejects.toThrow(
      /test-org\/qwen2-tiny@[0-9a-f]{40}: model\.safetensors: sha256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\)/,
    );
    const repoDir = path.join(opts.cacheDir!, 'models--test-org--qwen2-tiny');
    expect(existsSync(path.join(repoDir, 'snapshots', hub.commit('test-org/qwen2-tiny'), 'model.safetensors'))).toBe(
      false,
    );
    expect(
      readdirSync(path.join(repoDir, 'blobs')).filter((b) =>
        b.startsWith(hub.sha256('test-org/qwen2-tiny', 'model.safetensors')),
      ),
    ).toEqual([]);
  });

  it('a gated repo: 401 names HF_TOKEN; with the token the server sees the Authorization header', async () => {
    await expect(resolveModel('test-org/gated-gpt2', opts)).rejects.toThrow(
      /test-org\/gated-gpt2@main: access denied \(HTTP 401\); .*set HF_TOKEN/,
    );
    await expect(resolveModel('test-org/gated-gpt2', { ...opts, token: 'hf_wrong' })).rejects.toThrow(
      /HF_TOKEN is set but has no access/,
    );
    const before = hub.requests.length;
    const dir = await resolveModel('test-org/gated-gpt2', { ...opts, token: TOKEN });
    expect(
      readFileSync(path.join(dir, 'model.safetensors')).equals(
        readFileSync(path.join(HF_TINY, 'gpt2-tiny', 'model.safetensors')),
      ),
    ).toBe(true);
    const seen = hub.requests.slice(before);
    const toHub = seen.filter((r) => !r.path.startsWith('/cdn/'));
    expect(toHub.length).toBeGreaterThan(2);
    expect(toHub.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    const toCdn = seen.filter((r) => r.path.startsWith('/cdn/'));
    expect(toCdn.length).toBe(1); // model.safetensors, the one LFS file
    expect(toCdn[0].authorization).toBeNull(); // the token never leaves the Hub's origin
  });

  it('fetches only what a model needs: sharded safetensors + its shards, sentence-transformers modules', async () => {
    const dir = await resolveModel('test-org/st-sharded', opts);
    expect(listTree(dir)).toEqual([
      '1_Pooling/config.json',
      '2_Dense/config.json',
      '2_Dense/model.safetensors',
      'config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
      'modules.json',
      'sentence_bert_config.json',
      'tokenizer.json',
    ]);
    expect(readlinkSync(path.join(dir, '1_Pooling/config.json'))).toBe(
      `../../../blobs/${hub.gitOid('test-org/st-sharded', '1_Pooling/config.json')}`,
    );
    expect(await resolveModel('test-org/st-sharded', { ...opts, offline: true })).toBe(dir);
    rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    await expect(resolveModel('test-org/st-sharded', { ...opts, offline: true })).rejects.toThrow(
      /model-00002-of-00002\.safetensors is not in the cache/,
    );
  });

  it('GGUF: a named file, or the float one of a GGUF-only repo', async () => {
    const f16 = await resolveModel('test-org/gguf-only', opts);
    expect(path.basename(f16)).toBe('tiny-f16.gguf');
    expect(readFileSync(f16, 'utf8')).toBe('GGUF f16');
    const q4 = await resolveModel('test-org/gguf-only/tiny-q4_k_m.gguf', opts);
    expect(readFileSync(q4, 'utf8')).toBe('GGUF q4');
    expect(listTree(path.dirname(q4))).toEqual(['tiny-f16.gguf', 'tiny-q4_k_m.gguf']);
    await expect(resolveModel('test-org/gguf-only/missing.gguf', opts)).rejects.toThrow(
      /no file missing\.gguf in the repo \(GGUF files there: tiny-f16\.gguf, tiny-q4_k_m\.gguf\)/,
    );
  });

  it('names: a local path wins, anything else that is not org/name[@rev] is a clear error', async () => {
    const fixture = path.join(HF_TINY, 'bert-tiny');
    expect(await resolveModel(fixture, opts)).toBe(fixture);
    await expect(resolveModel('not a model', opts)).rejects.toThrow(
      '"not a model" is neither an existing path nor a Hugging Face model id (org/name, org/name@revision or org/name/file.gguf[@revision])',
    );
    await expect(resolveModel('./runs/missing', opts)).rejects.toThrow('./runs/missing: no such file or directory');
    await expect(resolveModel('test-org/unknown', opts)).rejects.toThrow(
      /test-org\/unknown@main: repository not found \(if it is private or gated, set HF_TOKEN\) \(HTTP 404\); no local path test-org\/unknown exists either/,
    );
  });
});

describe('model ids and environment', () => {
  it('parses org/name, @revision and .gguf files; rejects the rest', () => {
    expect(parseModelId('BAAI/bge-small-en-v1.5')).toEqual({
      repo: 'BAAI/bge-small-en-v1.5',
      revision: 'main',
      file: null,
    });
    expect(parseModelId('org/name@v1.0')).toEqual({ repo: 'org/name', revision: 'v1.0', file: null });
    expect(parseModelId('org/name/sub/model-Q8_0.gguf@abc')).toEqual({
      repo: 'org/name',
      revision: 'abc',
      file: 'sub/model-Q8_0.gguf',
    });
    for (const bad of [
      'gpt2',
      'a/b/c',
      'org/na me',
      '-org/name',
      'org/na--me',
      'org/name@',
      '/abs/path',
      'org/../x.gguf',
      'org/name@a@b',
    ]) {
      expect(parseModelId(bad), bad).toBeNull();
    }
  });

  it('HTTP errors say what to do: the Hub answers 401 for a missing repo as for a private one', () => {
    expect(httpError('o/n@main', 401, 'RepositoryNotFound', false).message).toBe(
      'o/n@main: repository not found or not accessible (HTTP 401); check the name, or set HF_TOKEN if it is private or gated',
    );
    expect(httpError('o/n@main: a.json', 403, 'GatedRepo', false).message).toMatch(
      /access denied \(HTTP 403\); the repo is gated or private: set HF_TOKEN/,
    );
    expect(httpError('o/n@main: a.json', 404, 'EntryNotFound', false).message).toBe(
      'o/n@main: a.json: no such file in the repo (HTTP 404)',
    );
  });

  it('reads HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN (or the token file) and HF_HUB_OFFLINE like huggingface_hub', () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'dalm-hfhome-'));
    writeFileSync(path.join(home, 'token'), 'hf_from_file\n');
    const a = hubOptionsFromEnv({}, { HF_HOME: home, HF_ENDPOINT: 'https://hf-mirror.com/', HF_HUB_OFFLINE: 'True' });
    expect(a).toMatchObject({
      cacheDir: path.join(home, 'hub'),
      endpoint: 'https://hf-mirror.com',
      offline: true,
      token: 'hf_from_file',
    });
    const b = hubOptionsFromEnv(
      {},
      { HF_HOME: home, HF_HUB_CACHE: '/x/cache', HF_TOKEN: 'hf_env', HF_HUB_OFFLINE: '0' },
    );
    expect(b).toMatchObject({
      cacheDir: '/x/cache',
      endpoint: 'https://huggingface.co',
      offline: false,
      token: 'hf_env',
    });
    expect(hubOptionsFromEnv({}, { XDG_CACHE_HOME: '/xdg' }).cacheDir).toBe('/xdg/huggingface/hub');
    expect(() => hubOptionsFromEnv({}, { HF_ENDPOINT: 'not a url' })).toThrow(/HF_ENDPOINT/);
    rmSync(home, { recursive: true, force: true });
  });

  it('reads a cache laid out by hand the way Python huggingface_hub writes it (HF_HUB_OFFLINE=1)', async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'dalm-pylayout-'));
    const repo = path.join(cache, repoFolderName('python-org/bert-tiny'));
    expect(path.basename(repo)).toBe('models--python-org--bert-tiny');
    const commit = 'a'.repeat(40);
    const src = path.join(HF_TINY, 'bert-tiny');
    mkdirSync(path.join(repo, 'blobs'), { recursive: true });
    mkdirSync(path.join(repo, 'refs'));
    mkdirSync(path.join(repo, 'snapshots', commit), { recursive: true });
    for (const f of [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'vocab.txt',
      'special_tokens_map.json',
    ]) {
      const bytes = readFileSync(path.join(src, f));
      const etag = f.endsWith('.safetensors')
        ? sha256(bytes)
        : createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
      writeFileSync(path.join(repo, 'blobs', etag), bytes);
      symlinkSync(`../../blobs/${etag}`, path.join(repo, 'snapshots', commit, f));
    }
    writeFileSync(path.join(repo, 'refs', 'main'), commit);
    const prev = process.env.HF_HUB_OFFLINE;
    process.env.HF_HUB_OFFLINE = '1';
    try {
      const dir = await resolveModel('python-org/bert-tiny', { cacheDir: cache, endpoint: 'http://127.0.0.1:9' });
      expect(dir).toBe(path.join(repo, 'snapshots', commit));
      expect(readFileSync(path.join(dir, 'config.json')).equals(readFileSync(path.join(src, 'config.json')))).toBe(
        true,
      );
      expect(await resolveModel(`python-org/bert-tiny@${commit}`, { cacheDir: cache })).toBe(dir);
    } finally {
      if (prev === undefined) delete process.env.HF_HUB_OFFLINE;
      else process.env.HF_HUB_OFFLINE = prev;
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
