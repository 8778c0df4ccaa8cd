"""PyTorch side of `pnpm bench retriever` (part `runtimes`): passages/s of HF transformers' BertModel.

What it computes: loads the encoder directory the bench wrote (config.json + model.safetensors, the
same random bge-small-shaped weights the tfjs and ONNX Runtime rows run), embeds `--passages` rows of
`--seq` random token ids in batches of `--batch` (mean pooling over the attention mask, L2
normalisation, as sentence-transformers' Pooling + Normalize) under torch.inference_mode, once per
thread count in `--threads` (torch.set_num_threads), after one warm-up batch, and prints one JSON
object on stdout: {"torch": version, "transformers": version, "rows": [{"threads", "passagesPerSec", "seconds"}]}.
Package versions: any torch >= 2.0 and transformers >= 4.30 (measured with torch 2.15, transformers 5.24).
Output: stdout only (the bench prints it beside its own rows); nothing is written to disk.

Usage: python bench/pytorch_encoder.py --model DIR [--batch 32] [--passages 64] [--seq 256] [--threads 1,2]
"""
import argparse
import json
import sys
import time

import torch
import transformers
from transformers import BertModel


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--passages", type=int, default=64)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--threads", default="1")
    a = p.parse_args()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    model = BertModel.from_pretrained(a.model, add_pooling_layer=False).eval()
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab, (a.passages, a.seq), generator=g)
    ids[:, 0] = 2
    ids[:, -1] = 3
    mask = torch.ones_like(ids)

    def embed(lo: int, hi: int) -> torch.Tensor:
        h = model(input_ids=ids[lo:hi], attention_mask=mask[lo:hi]).last_hidden_state
        m = mask[lo:hi].unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    rows = []
    for threads in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            embed(0, min(a.batch, a.passages))  # warm-up
            t0 = time.perf_counter()
            for lo in range(0, a.passages, a.batch):
                embed(lo, min(lo + a.batch, a.passages))
            s = time.perf_counter() - t0
        rows.append({"threads": threads, "passagesPerSec": a.passages / s, "seconds": s})
        print(f"  pytorch {threads} thread(s): {a.passages / s:.2f} passages/s", file=sys.stderr)
    print(json.dumps({"torch": torch.__version__, "transformers": transformers.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
