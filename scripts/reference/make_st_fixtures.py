#!/usr/bin/env python3
"""Tiny sentence-transformers models, one per module type, and the embeddings sentence-transformers computes.

What it computes
  From the random tiny BERT at ../shared/fixtures/hf-tiny/bert-tiny (hidden 32, 64 positions), it builds
  SentenceTransformer pipelines with sentence-transformers itself and saves each with `model.save(dir)`
  (so the files are in the layout this sentence-transformers version writes):
    pool-<mode>            Transformer -> Pooling(<mode>) -> Normalize, for every Pooling mode
    pool-cls-max           Pooling(("cls", "max")): two modes concatenated
    no-normalize-maxlen12  Pooling(mean), no Normalize, max_seq_length 12 (truncation)
    dense-tanh             Pooling(mean) -> Dense(32->16, Tanh) -> Normalize
    dense-chain            Pooling(max) -> Dense(32->24, no bias, Identity) -> Dense(24->16, Tanh)
    prompts                prompts {query: "query: ", document: "passage: "}, Pooling(mean) -> Normalize
    exclude-prompt-mean    the same prompts, Pooling(mean, include_prompt=False)
    exclude-prompt-cls     the same prompts, Pooling(cls, include_prompt=False)
    default-prompt         prompts {classification: "classify: "}, default_prompt_name "classification"
  and two plain Hugging Face copies of bert-tiny without any sentence-transformers file, with the vectors of
  the pipeline the framework promises for them (its no-modules.json rule), computed here by sentence-transformers:
    plain-bert             Transformer -> Pooling(mean) -> Normalize
    bge-tiny-plain         (a BGE-family name) Transformer -> Pooling(cls) -> Normalize
  For every fixture and a fixed list of sentences it records model.encode(...), model.encode_query(...) and
  model.encode_document(...) (float32, CPU, one batch) and the token count of each prepared input.

Versions (what scripts/reference/setup-venv.sh installs)
  sentence-transformers 6.3.0, transformers 5.24.0, torch 2.15.0, numpy 2.4.6.

Where the output goes (never into the repository)
  $DALM_REFERENCE_DIR/st-fixtures (default ~/.cache/dalm/reference/st-fixtures), or the first argument:
    <name>/            the saved SentenceTransformer directory
    manifest.json      versions, sentences, and per fixture: its directory, the vectors and token counts
  The directory is built under a temporary name and renamed into place, so a half-written one never appears.

Usage
  python scripts/reference/make_st_fixtures.py [OUT_DIR]
"""
from __future__ import annotations

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
from sentence_transformers.base.modules import Dense, Normalize, Transformer
from sentence_transformers.sentence_transformer.modules import Pooling

REPO = Path(__file__).resolve().parents[2]
BERT_TINY = REPO.parent / "shared" / "fixtures" / "hf-tiny" / "bert-tiny"
PLAIN_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]

SENTENCES = [
    "Hello, world! How are you?",
    "The quick brown fox jumps over the lazy dog.",
    "a cat",
    "My cat sat on the mat; it is a good day.",
    "red",
    "what can you do with a small model and a token?",
    # Longer than bert-tiny's 64 positions once tokenised: exercises truncation.
    "play, run, walk; jump over the green dog and the red fox, then sat on the mat. " * 4,
]

PROMPTS = {"query": "query: ", "document": "passage: "}


def out_dir() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1]).resolve()
    base = os.environ.get("DALM_REFERENCE_DIR") or str(Path.home() / ".cache" / "dalm" / "reference")
    return Path(base) / "st-fixtures"


def transformer(max_seq_length: int | None = None) -> Transformer:
    return Transformer(str(BERT_TINY), max_seq_length=max_seq_length)


def build(name: str, seed: int) -> tuple[SentenceTransformer, str] | None:
    """The pipeline for a fixture, and where its directory comes from ('save' or 'plain')."""
    torch.manual_seed(seed)
    t = transformer()
    h = t.get_embedding_dimension()
    if name.startswith("pool-") and name != "pool-cls-max":
        mode = name[len("pool-"):]
        return SentenceTransformer(modules=[t, Pooling(h, pooling_mode=mode), Normalize()], device="cpu"), "save"
    if name == "pool-cls-max":
        return SentenceTransformer(modules=[t, Pooling(h, pooling_mode=("cls", "max")), Normalize()], device="cpu"), "save"
    if name == "no-normalize-maxlen12":
        return SentenceTransformer(modules=[transformer(12), Pooling(h, pooling_mode="mean")], device="cpu"), "save"
    if name == "dense-tanh":
        dense = Dense(h, 16, bias=True, activation_function=torch.nn.Tanh())
        return SentenceTransformer(modules=[t, Pooling(h, pooling_mode="mean"), dense, Normalize()], device="cpu"), "save"
    if name == "dense-chain":
        d1 = Dense(h, 24, bias=False, activation_function=torch.nn.Identity())
        d2 = Dense(24, 16, bias=True, activation_function=torch.nn.Tanh())
        return SentenceTransformer(modules=[t, Pooling(h, pooling_mode="max"), d1, d2], device="cpu"), "save"
    if name == "prompts":
        return SentenceTransformer(modules=[t, Pooling(h, pooling_mode="mean"), Normalize()], prompts=PROMPTS, device="cpu"), "save"
    if name == "exclude-prompt-mean":
        return SentenceTransformer(modules=[t, Pooling(h, pooling_mode="mean", include_prompt=False), Normalize()], prompts=PROMPTS, device="cpu"), "save"
    if name == "exclude-prompt-cls":
        return SentenceTransformer(modules=[t, Pooling(h, pooling_mode="cls", include_prompt=False), Normalize()], prompts=PROMPTS, device="cpu"), "save"
    if name == "default-prompt":
        return (
            SentenceTransformer(
                modules=[t, Pooling(h, pooling_mode="mean"), Normalize()],
                prompts={"classification": "classify: "},
                default_prompt_name="classification",
                device="cpu",
            ),
            "save",
        )
    if name == "plain-bert":
        return SentenceTransformer(modules=[t, Pooling(h, pooling_mode="mean"), Normalize()], device="cpu"), "plain"
    if name == "bge-tiny-plain":
        return SentenceTransformer(modules=[t, Pooling(h, pooling_mode="cls"), Normalize()], device="cpu"), "plain"
    return None


FIXTURES = [
    *(f"pool-{m}" for m in Pooling.POOLING_MODES),
    "pool-cls-max",
    "no-normalize-maxlen12",
    "dense-tanh",
    "dense-chain",
    "prompts",
    "exclude-prompt-mean",
    "exclude-prompt-cls",
    "default-prompt",
    "plain-bert",
    "bge-tiny-plain",
]


def vectors(x: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in row] for row in np.asarray(x, dtype=np.float32)]


def token_counts(model: SentenceTransformer, prompt: str | None) -> list[int]:
    texts = [(prompt or "") + s for s in SENTENCES]
    features = model.preprocess(texts) if hasattr(model, "preprocess") else model.tokenize(texts)
    return [int(n) for n in features["attention_mask"].sum(dim=1)]


def main() -> None:
    if not BERT_TINY.is_dir():
        sys.exit(f"{BERT_TINY}: not found (the hf-tiny fixtures of ../shared)")
    torch.set_num_threads(1)
    dest = out_dir()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".tmp-", dir=dest.parent))
    manifest: dict = {
        "script": "scripts/reference/make_st_fixtures.py",
        "versions": {
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
        "source": str(BERT_TINY),
        "sentences": SENTENCES,
        "fixtures": {},
    }
    try:
        for i, name in enumerate(FIXTURES):
            built = build(name, seed=1000 + i)
            assert built is not None, name
            model, kind = built
            model.eval()
            fixture_dir = tmp / name
            if kind == "save":
                model.save(str(fixture_dir))
            else:
                fixture_dir.mkdir()
                for f in PLAIN_FILES:
                    shutil.copy(BERT_TINY / f, fixture_dir / f)
            with torch.no_grad():
                none = model.encode(SENTENCES, convert_to_numpy=True, batch_size=64)
                query = model.encode_query(SENTENCES, convert_to_numpy=True, batch_size=64)
                document = model.encode_document(SENTENCES, convert_to_numpy=True, batch_size=64)
            query_prompt = model.prompts.get("query") if "query" in model.prompts else (model.prompts.get(model.default_prompt_name) if model.default_prompt_name else None)
            doc_name = next((n for n in ("document", "passage", "corpus") if n in model.prompts), None)
            doc_prompt = model.prompts[doc_name] if doc_name else (model.prompts.get(model.default_prompt_name) if model.default_prompt_name else None)
            default_prompt = model.prompts.get(model.default_prompt_name) if model.default_prompt_name else None
            manifest["fixtures"][name] = {
                "dir": str(dest / name),
                "layout": "sentence-transformers save" if kind == "save" else "plain Hugging Face directory (no sentence-transformers files)",
                "modules": [type(m).__name__ for m in model],
                "dim": int(none.shape[1]),
                "max_seq_length": int(model.max_seq_length),
                "none": vectors(none),
                "query": vectors(query),
                "document": vectors(document),
                "token_counts": {
                    "none": token_counts(model, default_prompt),
                    "query": token_counts(model, query_prompt),
                    "document": token_counts(model, doc_prompt),
                },
            }
            print(f"{name}: {manifest['fixtures'][name]['modules']} dim {none.shape[1]}")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        if dest.exists():
            shutil.rmtree(dest)  # only ever a directory this script wrote (st-fixtures under the reference dir)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
