#!/usr/bin/env python3
"""Reference losses of a few generator fine-tuning steps, computed by PyTorch + transformers.

What it computes: trains the hf-tiny Llama fixture (/work/shared/fixtures/hf-tiny/llama-tiny,
`LlamaForCausalLM`, float32, eager attention) on the 4 examples of
packages/trainer/test/reference/llama-train-parity-data.json exactly as the framework's
`trainGenerator` recipe does, written here independently from its documented formulas:
  - one batch of all examples per step, right-padded with pad_token_id, attention mask 1 on real
    tokens; input = (prompt + answer)[:-1], target = (prompt + answer)[1:];
  - loss = mean negative log-likelihood over the answer tokens (targets at positions
    t >= len(prompt) - 1), summed over the batch and divided by their count;
  - torch.nn.utils.clip_grad_norm_(max_norm) over all trainable parameters;
  - learning rate: linear warmup lr·(step+1)/warmup for step < warmup, then linear decay
    lr·(1 − (step − warmup)/(steps − warmup)) (step counted from 0);
  - torch.optim.AdamW(betas, eps, weight_decay) with weight decay off for biases and norm weights.
Twice: full fine-tuning, and LoRA (r, alpha on q_proj/v_proj: y = W x + (alpha/r)·B A x) starting
from A ~ N(0, initStdA), B ~ N(0, initStdB) drawn with torch.Generator().manual_seed(initSeed)
(layer by layer, q then v, A then B); this init is written into the output so the framework starts
from the same adapter.

Versions: written with torch 2.15.0, transformers 5.24.0 (the JSON records the versions used).

Output: packages/trainer/test/reference/llama-train-parity.json (a small file of losses, committed
as the independent reference), or the path given as the first argument.

Run:  ~/.cache/dalm/pyref/bin/python scripts/reference/llama_train_parity.py
"""
import json
import math
import os
import re
import sys
import tempfile

import torch
import transformers
from transformers import LlamaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(REPO, "packages/trainer/test/reference/llama-train-parity-data.json")
OUT = os.path.join(REPO, "packages/trainer/test/reference/llama-train-parity.json")


def decays(name: str) -> bool:
    return not (name.endswith(".bias") or re.search(r"norm|layernorm|ln_", name, re.IGNORECASE))


def lr_at(step: int, peak: float, t: dict) -> float:
    w, total = t["warmupSteps"], t["steps"]
    if w > 0 and step < w:
        return peak * (step + 1) / w
    span = max(1, total - w)
    progress = min(1.0, (step - w) / span)
    return peak * (t["minLrRatio"] + (1 - t["minLrRatio"]) * (1 - progress))


def batch(data: dict):
    rows = []
    for ex in data["examples"]:
        seq = ex["prompt"] + ex["answer"]
        rows.append((seq[:-1], seq[1:], [1.0 if t + 1 >= len(ex["prompt"]) else 0.0 for t in range(len(seq) - 1)]))
    T = max(len(r[0]) for r in rows)
    pad = data["pad_token_id"]
    ids = torch.tensor([r[0] + [pad] * (T - len(r[0])) for r in rows])
    tgt = torch.tensor([r[1] + [0] * (T - len(r[1])) for r in rows])
    mask = torch.tensor([r[2] + [0.0] * (T - len(r[2])) for r in rows])
    att = torch.tensor([[1] * len(r[0]) + [0] * (T - len(r[0])) for r in rows])
    return ids, tgt, mask, att


def answer_nll(model, ids, tgt, mask, att):
    logits = model(input_ids=ids, attention_mask=att).logits  # [B, T, V]
    logp = torch.log_softmax(logits, dim=-1).gather(-1, tgt.unsqueeze(-1)).squeeze(-1)  # [B, T]
    return -(logp * mask).sum() / mask.sum().clamp(min=1)


class LoraLinear(torch.nn.Module):
    def __init__(self, base: torch.nn.Linear, a: torch.Tensor, b: torch.Tensor, scale: float):
        super().__init__()
        self.base = base
        self.lora_A = torch.nn.Parameter(a.clone())  # [r, in]
        self.lora_B = torch.nn.Parameter(b.clone())  # [out, r]
        self.scale = scale

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scale


def run(data: dict, fixture: str, mode: str):
    torch.manual_seed(0)
    model = LlamaForCausalLM.from_pretrained(fixture, dtype=torch.float32, attn_implementation="eager")
    model.train()  # attention_dropout is 0 in the fixture
    t = data["train"]
    init = None
    if mode == "lora":
        cfg = data["lora"]
        gen = torch.Generator().manual_seed(cfg["initSeed"])
        init = {}
        for p in model.parameters():
            p.requires_grad_(False)
        for i, layer in enumerate(model.model.layers):
            for mod in cfg["targetModules"]:
                base = getattr(layer.self_attn, mod)
                a = torch.randn(cfg["r"], base.in_features, generator=gen) * cfg["initStdA"]
                b = torch.randn(base.out_features, cfg["r"], generator=gen) * cfg["initStdB"]
                name = f"model.layers.{i}.self_attn.{mod}"
                init[f"{name}.lora_A.weight"] = {"shape": list(a.shape), "data": a.flatten().tolist()}
                init[f"{name}.lora_B.weight"] = {"shape": list(b.shape), "data": b.flatten().tolist()}
                setattr(layer.self_attn, mod, LoraLinear(base, a, b, cfg["alpha"] / cfg["r"]))
        peak = cfg["learningRate"]
    else:
        peak = data["full"]["learningRate"]
    named = [(n.replace(".base.", "."), p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in named if decays(n)], "weight_decay": t["weightDecay"]},
        {"params": [p for n, p in named if not decays(n)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=peak, betas=(t["beta1"], t["beta2"]), eps=t["epsilon"], foreach=False)
    ids, tgt, mask, att = batch(data)
    losses, norms, lrs = [], [], []
    for step in range(t["steps"]):
        lr = lr_at(step, peak, t)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        loss = answer_nll(model, ids, tgt, mask, att)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_([p for _, p in named], t["maxGradNorm"])
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())
        lrs.append(lr)
    with torch.no_grad():
        final = answer_nll(model, ids, tgt, mask, att).item()
    out = {"losses": losses, "grad_norms": norms, "lrs": lrs, "final_loss": final, "trainable": sum(p.numel() for _, p in named)}
    if init is not None:
        out["lora_init"] = init
    print(mode, [round(x, 6) for x in losses], "final", round(final, 6))
    return out


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    with open(DATA) as f:
        data = json.load(f)
    fixture = os.path.join(os.path.dirname(REPO), "shared", data["model"])
    if not os.path.isdir(fixture):
        fixture = os.path.join("/work/shared", data["model"])
    result = {
        "what": "per-step answer-only NLL of LlamaForCausalLM (hf-tiny llama-tiny) trained by torch.optim.AdamW",
        "script": "scripts/reference/llama_train_parity.py",
        "data": "packages/trainer/test/reference/llama-train-parity-data.json",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "full": run(data, fixture, "full"),
        "lora": run(data, fixture, "lora"),
    }
    path = sys.argv[1] if len(sys.argv) > 1 else OUT
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
