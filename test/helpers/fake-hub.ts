/**
 * A local stand-in for the Hugging Face Hub (node:http on 127.0.0.1, a random free port) that
 * speaks the endpoints the clients use, with the Hub's headers, serving directories as repos:
 *
 * - `GET /api/models/{repo}/revision/{rev}`: model info (`sha`, `siblings`, `gated`, …)
 * - `GET /api/models/{repo}/tree/{rev}[/{path}]`: the file tree (`oid`, `size`, `lfs: {oid, size}`)
 * - `HEAD|GET /{repo}/resolve/{rev}/{file}`: small files answer 200 with ETag (git sha1) and
 *   X-Repo-Commit; LFS files (`*.safetensors`, `*.gguf`, `*.bin`, `*.onnx`) answer 302 to
 *   `/cdn/{sha256}` on a second port (another origin, as the Hub's CDN is: clients keep the
 *   metadata of the 302 and send no token there) with X-Linked-Etag (sha256), X-Linked-Size and
 *   X-Repo-Commit, as the Hub does
 * - `GET|HEAD /cdn/{sha256}` (CDN origin): the bytes, with Range support
 *
 * Faults for tests: `dropOnce(repo, file)` (the next GET sends half the body, then drops the
 * socket), `corrupt(repo, file)` (wrong bytes of the right length), gated repos (401 without the
 * right `Authorization: Bearer`). Every request is logged in `requests`.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface FakeRepoSpec {
  /** Directory whose files are the repo's files. */
  dir: string;
  /** Revision (branch/tag) -> commit sha; default `{ main: sha1(repo) }`. */
  revisions?: Record<string, string>;
  /** 401 unless the request carries `Authorization: Bearer <FakeHubOptions.token>`. */
  gated?: boolean;
  /** Only these files of `dir` (relative paths); default all. */
  files?: string[];
}

export interface FakeHubOptions {
  repos: Record<string, FakeRepoSpec>;
  /** The token gated repos accept. */
  token?: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  range: string | null;
  authorization: string | null;
}

interface FakeFile {
  path: string;
  bytes: Buffer;
  gitOid: string;
  sha256: string;
  lfs: boolean;
}

interface FakeRepo {
  name: string;
  spec: FakeRepoSpec;
  revisions: Record<string, string>;
  files: Map<string, FakeFile>;
}

const LFS_RE = /\.(safetensors|gguf|bin|onnx|h5|msgpack)$/i;

function gitBlobSha1(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

function listDir(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(path.join(dir, rel)).isDirectory()) out.push(...listDir(dir, rel));
    else out.push(rel);
  }
  return out;
}

/** A commit sha for a name (deterministic). */
export function fakeCommit(name: string): string {
  return createHash('sha1').update(`commit ${name}`).digest('hex');
}

export class FakeHub {
  readonly requests: LoggedRequest[] = [];
  private readonly repos = new Map<string, FakeRepo>();
  private readonly byBlob = new Map<string, { repo: string; file: FakeFile }>();
  private readonly drops = new Set<string>();
  private readonly corrupted = new Set<string>();
  private server: http.Server | null = null;
  private cdn: http.Server | null = null;
  private port = 0;
  private cdnPort = 0;

  constructor(private readonly opts: FakeHubOptions) {
    for (const [name, spec] of Object.entries(opts.repos)) this.addRepo(name, spec);
  }

  /** Adds (or replaces) a repo. */
  addRepo(name: string, spec: FakeRepoSpec): void {
    const files = new Map<string, FakeFile>();
    for (const rel of spec.files ?? listDir(spec.dir)) {
      const bytes = readFileSync(path.join(spec.dir, rel));
      const file: FakeFile = {
        path: rel,
        bytes,
        gitOid: gitBlobSha1(bytes),
        sha256: createHash('sha256').update(bytes).digest('hex'),
        lfs: LFS_RE.test(rel),
      };
      files.set(rel, file);
      if (file.lfs) this.byBlob.set(file.sha256, { repo: name, file });
    }
    this.repos.set(name, { name, spec, revisions: spec.revisions ?? { main: fakeCommit(name) }, files });
  }

  /** The base URL (`http://127.0.0.1:<port>`), once started. */
  get url(): string {
    if (!this.server) throw new Error('FakeHub: not started');
    return `http://127.0.0.1:${this.port}`;
  }

  /** The commit a revision of a repo points to. */
  commit(repo: string, revision = 'main'): string {
    return this.repos.get(repo)!.revisions[revision];
  }

  /** sha256 of a served file. */
  sha256(repo: string, file: string): string {
    return this.repos.get(repo)!.files.get(file)!.sha256;
  }

  /** git blob sha1 of a served file (the ETag of a small file). */
  gitOid(repo: string, file: string): string {
    return this.repos.get(repo)!.files.get(file)!.gitOid;
  }

  /** The next GET of the file's bytes sends half of them, then drops the connection. */
  dropOnce(repo: string, file: string): void {
    this.drops.add(`${repo}/${file}`);
  }

  /** Every GET of the file's bytes sends wrong bytes (same length). */
  corrupt(repo: string, file: string): void {
    this.corrupted.add(`${repo}/${file}`);
  }

  /** GET requests for a file's bytes (resolve or CDN), in order. */
  byteRequests(repo: string, file: string): LoggedRequest[] {
    const f = this.repos.get(repo)!.files.get(file)!;
    return this.requests.filter(
      (r) =>
        r.method === 'GET' &&
        (r.path.startsWith(`/cdn/${f.sha256}`) ||
          (!f.lfs && r.path.startsWith(`/${repo}/resolve/`) && r.path.endsWith(`/${file}`))),
    );
  }

  async start(): Promise<this> {
    const listen = async (s: http.Server) => {
      s.requestTimeout = 10_000;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
      return (s.address() as AddressInfo).port;
    };
    this.server = http.createServer((req, res) => this.handle(req, res, false));
    this.cdn = http.createServer((req, res) => this.handle(req, res, true));
    this.port = await listen(this.server);
    this.cdnPort = await listen(this.cdn);
    return this;
  }

  async stop(): Promise<void> {
    for (const s of [this.server, this.cdn]) {
      if (!s) continue;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    this.server = null;
    this.cdn = null;
  }

  private json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  private error(res: http.ServerResponse, status: number, code: string, message: string): void {
    this.json(res, status, { error: message }, { 'x-error-code': code, 'x-error-message': message });
  }

  private authorized(repo: FakeRepo, req: http.IncomingMessage): boolean {
    return !repo.spec.gated || req.headers.authorization === `Bearer ${this.opts.token}`;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, cdn: boolean): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = decodeURIComponent(url.pathname);
    this.requests.push({
      method: req.method ?? '',
      path: p,
      range: (req.headers.range as string) ?? null,
      authorization: req.headers.authorization ?? null,
    });
    let m: RegExpExecArray | null;
    if (cdn) {
      const hit = (m = /^\/cdn\/([0-9a-f]{64})$/.exec(p)) ? this.byBlob.get(m[1]) : undefined;
      if (!hit) return this.error(res, 404, 'EntryNotFound', 'no such blob');
      return this.sendBytes(req, res, hit.repo, hit.file, { etag: `"${hit.file.sha256}"`, 'accept-ranges': 'bytes' });
    }
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)(?:\/(.*))?$/.exec(p))) {
      const [, name, kind, rev, sub] = m;
      const repo = this.repos.get(name);
      if (!repo) return this.error(res, 404, 'RepositoryNotFound', 'Repository not found');
      if (!this.authorized(repo, req))
        return this.error(
          res,
          401,
          'GatedRepo',
          `Access to model ${name} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
        );
      const sha = this.resolveRevision(repo, rev);
      if (!sha) return this.error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      if (kind === 'revision') {
        return this.json(res, 200, {
          _id: `id-${name}`,
          id: name,
          modelId: name,
          sha,
          private: false,
          gated: repo.spec.gated ? 'manual' : false,
          disabled: false,
          downloads: 0,
          likes: 0,
          lastModified: '2024-01-01T00:00:00.000Z',
          tags: [],
          siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
        });
      }
      const recursive = url.searchParams.get('recursive') === 'true';
      const base = sub ? `${sub.replace(/\/$/, '')}/` : '';
      const entries: unknown[] = [];
      const dirs = new Set<string>();
      for (const f of repo.files.values()) {
        if (!f.path.startsWith(base)) continue;
        const rest = f.path.slice(base.length);
        if (!recursive && rest.includes('/')) {
          dirs.add(base + rest.split('/')[0]);
          continue;
        }
        if (recursive)
          for (let i = rest.indexOf('/'); i >= 0; i = rest.indexOf('/', i + 1)) dirs.add(base + rest.slice(0, i));
        const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${f.sha256}\nsize ${f.bytes.length}\n`;
        entries.push(
          f.lfs
            ? {
                type: 'file',
                oid: gitBlobSha1(Buffer.from(pointer)),
                size: f.bytes.length,
                path: f.path,
                lfs: { oid: f.sha256, size: f.bytes.length, pointerSize: pointer.length },
              }
            : { type: 'file', oid: f.gitOid, size: f.bytes.length, path: f.path },
        );
      }
      for (const d of dirs) entries.push({ type: 'directory', oid: fakeCommit(d).slice(0, 40), size: 0, path: d });
      return this.json(res, 200, entries);
    }
    if ((m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p))) {
      const [, name, rev, file] = m;
      const repo = this.repos.get(name);
      if (!repo) return this.error(res, 404, 'RepositoryNotFound', 'Repository not found');
      if (!this.authorized(repo, req))
        return this.error(res, 401, 'GatedRepo', `Access to model ${name} is restricted.`);
      const sha = this.resolveRevision(repo, rev);
      if (!sha) return this.error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      const f = repo.files.get(file);
      if (!f) return this.error(res, 404, 'EntryNotFound', `${file} does not exist on "${rev}"`);
      const common = { 'x-repo-commit': sha, 'accept-ranges': 'bytes' };
      if (f.lfs) {
        res.writeHead(302, {
          ...common,
          location: `http://127.0.0.1:${this.cdnPort}/cdn/${f.sha256}`,
          etag: `"${f.gitOid}"`,
          'x-linked-etag': `"${f.sha256}"`,
          'x-linked-size': String(f.bytes.length),
          'content-length': '0',
        });
        return void res.end();
      }
      return this.sendBytes(req, res, name, f, { ...common, etag: `"${f.gitOid}"` });
    }
    this.error(res, 404, 'NotFound', `no route ${req.method} ${p}`);
  }

  private resolveRevision(repo: FakeRepo, rev: string): string | null {
    if (repo.revisions[rev]) return repo.revisions[rev];
    return Object.values(repo.revisions).includes(rev) ? rev : null;
  }

  private sendBytes(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    repo: string,
    f: FakeFile,
    headers: Record<string, string>,
  ): void {
    const key = `${repo}/${f.path}`;
    let body = f.bytes;
    if (this.corrupted.has(key)) {
      body = Buffer.from(f.bytes);
      for (let i = 0; i < body.length; i += 97) body[i] ^= 0xff;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec((req.headers.range as string) ?? '');
    if (range) {
      start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        return void res.end();
      }
    }
    const part = body.subarray(start);
    const status = range ? 206 : 200;
    res.writeHead(status, {
      ...headers,
      'content-type': 'application/octet-stream',
      'content-length': String(part.length),
      ...(range ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    if (this.drops.has(key)) {
      this.drops.delete(key);
      res.write(part.subarray(0, Math.floor(part.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(part);
  }
}

/** Points the HF_* environment at `hub` and a fresh cache; returns a function that restores the old values. */
export function useFakeHubEnv(hub: FakeHub, cacheDir: string, extra: Record<string, string> = {}): () => void {
  const vars: Record<string, string> = {
    HF_ENDPOINT: hub.url,
    HF_HUB_CACHE: cacheDir,
    HF_TOKEN: '',
    HF_HUB_DISABLE_PROGRESS_BARS: '1',
    HF_HUB_OFFLINE: '0',
    ...extra,
  };
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
