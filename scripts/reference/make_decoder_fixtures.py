#!/usr/bin/env python3
"""Tiny random Llama checkpoints with transformers-computed logits, for the decoder loading tests.

What it computes: for each case below, a random `LlamaForCausalLM` (torch.manual_seed per case) from
a tiny `LlamaConfig`, saved with `save_pretrained` in the stated dtype and sharding, then reloaded
from disk in float32 (as the framework widens F16/BF16) and run on fixed inputs; the logits go to
reference.json beside the checkpoint.
  rope-llama3    rope_scaling llama3 (factor 8, low 1, high 4, original 256: head_dim 16 puts
                 frequencies in all three bands), rope_theta 10000, untied head, float32
  rope-linear    rope_scaling linear (factor 4), rope_theta 50000, tied head, float16 weights
  sharded-bf16   no scaling, untied head, bfloat16 weights in several shards
                 (model.safetensors.index.json, max_shard_size 20KB)
Inputs: two rows of 12 ids (the second with positions 200..211 via position_ids, past the
original context, where the scaled frequencies matter).

Versions: written with torch 2.15.0, transformers 5.24.0 (reference.json records the versions used).

Output: <out>/<case>/{config.json, model*.safetensors[, model.safetensors.index.json],
reference.json}, where <out> is the first argument, else $DALM_REFERENCE_DIR/decoder-fixtures,
else ~/.cache/dalm/reference/decoder-fixtures. Nothing is written inside the repo.

Run:  ~/.cache/dalm/pyref/bin/python scripts/reference/make_decoder_fixtures.py
"""
import json
import os
import shutil
import sys
import tempfile

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

BASE = dict(vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-6, initializer_range=0.2,
            bos_token_id=1, eos_token_id=2, pad_token_id=0)

CASES = [
    {"name": "rope-llama3", "dtype": torch.float32, "shard": None,
     "config": dict(rope_theta=10000.0, tie_word_embeddings=False,
                    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 256})},
    {"name": "rope-linear", "dtype": torch.float16, "shard": None,
     "config": dict(rope_theta=50000.0, tie_word_embeddings=True, rope_scaling={"rope_type": "linear", "factor": 4.0})},
    {"name": "sharded-bf16", "dtype": torch.bfloat16, "shard": "20KB",
     "config": dict(rope_theta=10000.0, tie_word_embeddings=False)},
]

INPUT_IDS = [[1, 5, 17, 33, 8, 90, 41, 12, 77, 3, 64, 29], [1, 44, 9, 71, 16, 58, 23, 85, 6, 37, 50, 11]]
POSITION_IDS = [list(range(12)), list(range(200, 212))]


def out_root() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    base = os.environ.get("DALM_REFERENCE_DIR") or os.path.expanduser("~/.cache/dalm/reference")
    return os.path.join(base, "decoder-fixtures")


def make(case: dict, root: str) -> None:
    torch.manual_seed(len(case["name"]))
    config = LlamaConfig(**BASE, **case["config"])
    model = LlamaForCausalLM(config).to(case["dtype"])
    tmp = tempfile.mkdtemp(dir=root, prefix=f".{case['name']}-")
    kwargs = {"max_shard_size": case["shard"]} if case["shard"] else {}
    model.save_pretrained(tmp, safe_serialization=True, **kwargs)
    shards = sorted(f for f in os.listdir(tmp) if f.endswith(".safetensors"))
    reloaded = LlamaForCausalLM.from_pretrained(tmp, dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        logits = reloaded(input_ids=torch.tensor(INPUT_IDS), position_ids=torch.tensor(POSITION_IDS)).logits
    ref = {
        "what": f"transformers logits of the {case['name']} checkpoint in this directory (reloaded in float32)",
        "script": "scripts/reference/make_decoder_fixtures.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "stored_dtype": str(case["dtype"]).replace("torch.", ""),
        "shards": shards,
        "input_ids": INPUT_IDS,
        "position_ids": POSITION_IDS,
        "logits": logits.tolist(),
        "atol": 1e-4,
    }
    with open(os.path.join(tmp, "reference.json"), "w") as f:
        json.dump(ref, f)
    final = os.path.join(root, case["name"])
    if os.path.isdir(final) and os.path.exists(os.path.join(final, "reference.json")):
        shutil.rmtree(final)  # only a directory this script wrote (it has our reference.json)
    os.replace(tmp, final)
    print(f"{case['name']}: {len(shards)} weight file(s), {ref['stored_dtype']} -> {final}")


def main() -> None:
    torch.set_num_threads(1)
    root = out_root()
    os.makedirs(root, exist_ok=True)
    for case in CASES:
        make(case, root)


if __name__ == "__main__":
    main()
