#!/usr/bin/env python3
"""Checks that sentence-transformers loads an encoder directory this framework saved, and embeds as it does.

What it computes
  SentenceTransformer(DIR) (CPU, float32) embeds the sentences of VECTORS.json with encode, encode_query and
  encode_document, and compares them with the vectors VECTORS.json holds ({"sentences": [...], "none": [[...]],
  "query": [[...]], "document": [[...]]}, e.g. written by the framework's Encoder for the same directory).
  Prints the largest absolute difference per kind; exits 1 when one exceeds TOLERANCE (default 1e-5).

Versions: sentence-transformers 6.3.0, transformers 5.24.0, torch 2.15.0 (scripts/reference/requirements.txt).
Output: nothing is written; it reads DIR and VECTORS.json only. Not run by make-all.sh (it takes arguments).

Usage
  python scripts/reference/check_st_loads_saved.py DIR VECTORS.json [TOLERANCE]
"""
from __future__ import annotations

import json
import sys

import numpy as np
import torch
from sentence_transformers import SentenceTransformer


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    model_dir, vectors_file = sys.argv[1], sys.argv[2]
    tolerance = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-5
    with open(vectors_file, encoding="utf8") as f:
        ours = json.load(f)
    model = SentenceTransformer(model_dir, device="cpu", local_files_only=True)
    model.eval()
    sentences = ours["sentences"]
    worst = 0.0
    with torch.no_grad():
        for kind, encode in (("none", model.encode), ("query", model.encode_query), ("document", model.encode_document)):
            st = encode(sentences, convert_to_numpy=True, batch_size=64)
            diff = float(np.max(np.abs(st - np.asarray(ours[kind], dtype=np.float32))))
            worst = max(worst, diff)
            print(f"{model_dir}: {kind}: modules {[type(m).__name__ for m in model]}, max |sentence-transformers - ours| = {diff:.2e}")
    sys.exit(0 if worst <= tolerance else 1)


if __name__ == "__main__":
    main()
