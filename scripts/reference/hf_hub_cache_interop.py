"""Python huggingface_hub side of the cache interop test (packages/core/test/hub-python-interop.test.ts).

What it computes: for each file of a model repo, the cache path Python's huggingface_hub gives it,
either by downloading (`hf_hub_download`, against the endpoint in HF_ENDPOINT, into HF_HUB_CACHE)
or by looking it up without network (`try_to_load_from_cache`), plus the sha256 of the bytes there.
The TypeScript test compares these paths with the ones dalm's resolveModel uses on the same cache.

Package versions: huggingface_hub >= 0.20 (checked with 2.4.0 in the reference venv).
Output: a JSON file at the path given by --out (the test puts it in a temp directory, outside the
repo): {"huggingface_hub": version, "files": {name: {"path": str|null, "sha256": str|null}}}.

Usage:
  HF_ENDPOINT=http://127.0.0.1:PORT HF_HUB_CACHE=/tmp/cache \
    python hf_hub_cache_interop.py download --repo test-org/bert-tiny --out /tmp/r.json config.json model.safetensors
  HF_HUB_CACHE=/tmp/cache python hf_hub_cache_interop.py lookup --repo test-org/llama-tiny --out /tmp/r.json config.json
"""
import argparse
import hashlib
import json
import os

import huggingface_hub
from huggingface_hub import hf_hub_download, try_to_load_from_cache


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["download", "lookup"])
    ap.add_argument("--repo", required=True)
    ap.add_argument("--revision", default="main")
    ap.add_argument("--out", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    cache = os.environ["HF_HUB_CACHE"]
    out = {}
    for name in args.files:
        if args.mode == "download":
            path = hf_hub_download(args.repo, name, revision=args.revision, cache_dir=cache)
        else:
            found = try_to_load_from_cache(args.repo, name, cache_dir=cache, revision=args.revision)
            path = found if isinstance(found, str) else None
        out[name] = {"path": path, "sha256": sha256(path) if path else None}
    with open(args.out, "w") as f:
        json.dump({"huggingface_hub": huggingface_hub.__version__, "files": out}, f, indent=2)


if __name__ == "__main__":
    main()
