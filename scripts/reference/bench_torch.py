#!/usr/bin/env python3
"""PyTorch reference timings for the dalm-ts benches (`pnpm bench engine`, `pnpm bench retriever`).

Computes ms per training step, on the CPU with a given number of threads, of the same models the
benches train, written here in plain torch (random weights; no checkpoint is read):

  --model lm    the engine bench LM (packages/core/bench/engine.ts): token + position embeddings,
                pre-norm blocks (RMS-style norm with gain, fused qkv, causal softmax attention, GELU
                MLP), tied output head, mean next-token cross-entropy, Adam(lr 1e-3).
  --model bert  a BERT encoder (post-LN, GELU, dropout 0.1, mean pooling, L2 normalised) trained
                with InfoNCE (scale 20) over queries x (positives + hard negatives), AdamW(lr 5e-4),
                plain backprop; per step, the padded query/passage lengths given by the bench.

Output: one JSON object on stdout ({"ms_per_step": [...], "median_ms": ..., "threads": ..., "torch": ...}).
Nothing is written to disk. Versions: torch >= 2.0 (run with the venv at /work/pyref/venv, torch 2.x CPU).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def lm_step_fn(a):
    V, D, H, L, M, S, B = a.vocab, a.hidden, a.heads, a.layers, a.intermediate, a.seq, a.batch
    g = torch.Generator().manual_seed(42)
    n = lambda *shape, std=0.02: (torch.randn(*shape, generator=g) * std).requires_grad_()
    p = {"tok": n(V, D), "pos": n(S, D), "lnf": torch.ones(D, requires_grad=True)}
    for l in range(L):
        p[f"ln1{l}"] = torch.ones(D, requires_grad=True)
        p[f"qkv{l}"] = n(D, 3 * D)
        p[f"wo{l}"] = n(D, D, std=0.02 / (2 * L) ** 0.5)
        p[f"ln2{l}"] = torch.ones(D, requires_grad=True)
        p[f"w1{l}"] = n(D, M)
        p[f"w2{l}"] = n(M, D, std=0.02 / (2 * L) ** 0.5)
    opt = torch.optim.Adam(p.values(), lr=1e-3)
    data = torch.randint(0, V, (B, S + 1), generator=g)
    ids, targets = data[:, :-1], data[:, 1:]
    causal = torch.triu(torch.full((S, S), -1e9), 1)
    norm = lambda x, w: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w
    Dh = D // H

    def step():
        x = p["tok"][ids] + p["pos"][:S]
        for l in range(L):
            q, k, v = (norm(x, p[f"ln1{l}"]) @ p[f"qkv{l}"]).split(D, -1)
            q, k, v = (t.view(B, S, H, Dh).transpose(1, 2) for t in (q, k, v))
            att = torch.softmax(q @ k.transpose(-1, -2) / Dh**0.5 + causal, -1) @ v
            x = x + att.transpose(1, 2).reshape(B, S, D) @ p[f"wo{l}"]
            x = x + F.gelu(norm(x, p[f"ln2{l}"]) @ p[f"w1{l}"]) @ p[f"w2{l}"]
        logits = norm(x, p["lnf"]) @ p["tok"].t()
        loss = F.cross_entropy(logits.reshape(B * S, V), targets.reshape(B * S))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return lambda i: step()


class BertLayer(torch.nn.Module):
    def __init__(s, D, H, M, drop):
        super().__init__()
        s.H, s.drop = H, drop
        s.q, s.k, s.v, s.o = (torch.nn.Linear(D, D) for _ in range(4))
        s.ln1, s.ln2 = torch.nn.LayerNorm(D, eps=1e-12), torch.nn.LayerNorm(D, eps=1e-12)
        s.up, s.down = torch.nn.Linear(D, M), torch.nn.Linear(M, D)

    def forward(s, x, bias):
        B, T, D = x.shape
        sh = lambda t: t.view(B, T, s.H, D // s.H).transpose(1, 2)
        q, k, v = sh(s.q(x)), sh(s.k(x)), sh(s.v(x))
        probs = F.dropout(torch.softmax(q @ k.transpose(-1, -2) / (D // s.H) ** 0.5 + bias, -1), s.drop, s.training)
        ctx = (probs @ v).transpose(1, 2).reshape(B, T, D)
        h = s.ln1(x + F.dropout(s.o(ctx), s.drop, s.training))
        return s.ln2(h + F.dropout(s.down(F.gelu(s.up(h))), s.drop, s.training))


class Bert(torch.nn.Module):
    def __init__(s, a):
        super().__init__()
        D = a.hidden
        s.tok, s.pos, s.typ = torch.nn.Embedding(a.vocab, D), torch.nn.Embedding(512, D), torch.nn.Embedding(2, D)
        s.ln = torch.nn.LayerNorm(D, eps=1e-12)
        s.layers = torch.nn.ModuleList(BertLayer(D, a.heads, a.intermediate, 0.1) for _ in range(a.layers))

    def forward(s, ids, mask):
        T = ids.shape[1]
        x = F.dropout(s.ln(s.tok(ids) + s.pos.weight[:T] + s.typ.weight[0]), 0.1, s.training)
        bias = (1 - mask[:, None, None, :].float()) * -1e9
        for layer in s.layers:
            x = layer(x, bias)
        m = mask[..., None].float()
        return F.normalize((x * m).sum(1) / m.sum(1), dim=-1)


def bert_step_fn(a):
    torch.manual_seed(42)
    model = Bert(a).train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    qlens = [int(x) for x in a.query_lens.split(",")]
    plens = [int(x) for x in a.passage_lens.split(",")]
    nq, npass = a.batch, a.batch * (1 + a.negatives)

    def step(i):
        ql, pl = qlens[i % len(qlens)], plens[i % len(plens)]
        q_ids, p_ids = torch.randint(1, a.vocab, (nq, ql)), torch.randint(1, a.vocab, (npass, pl))
        q = model(q_ids, torch.ones_like(q_ids))
        p = model(p_ids, torch.ones_like(p_ids))
        loss = F.cross_entropy(20 * q @ p.t(), torch.arange(nq))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=["lm", "bert"], required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=512)
    ap.add_argument("--negatives", type=int, default=1)
    ap.add_argument("--query-lens", default="32")
    ap.add_argument("--passage-lens", default="256")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    step = lm_step_fn(a) if a.model == "lm" else bert_step_fn(a)
    times, losses = [], []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        losses.append(step(i))
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"ms_per_step": times, "median_ms": statistics.median(times), "threads": torch.get_num_threads(), "torch": torch.__version__, "losses": losses}))


if __name__ == "__main__":
    main()
