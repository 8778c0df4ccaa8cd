"""sentence-transformers side of scripts/covidqa-pretrained.sh (issue 17).

Computes: the same contrastive fine-tuning the framework's `dalm train retriever` does, done by
sentence-transformers -- CachedMultipleNegativesRankingLoss (scale 20 = temperature 0.05, in-batch
negatives plus the pairs file's hard negative), same model dir (incl. its max_seq_length), same
pairs file, batch, lr, warmup, steps/epochs, seed and torch thread count -- and saves the model in
sentence-transformers format so the framework evaluates it with the same metric code.
Versions: torch 2.x, sentence-transformers >= 3 (the reference venv ~/.cache/dalm/pyref has torch
2.15 / sentence-transformers 6.3).
Output: OUT_DIR (argument; the script writes ~/.cache/dalm/covidqa-pretrained/st) plus
OUT_DIR.train.json with the training wall time. Nothing is written inside the repository.

Usage: python st_finetune_covidqa.py MODEL_DIR PAIRS_JSONL OUT_DIR --batch 32 --lr 2e-5 --steps 31
       --warmup 3 --seed 42 --threads 2 [--mini-batch 16]
"""
import argparse, json, os, random, time

import torch
from sentence_transformers import SentenceTransformer, losses

p = argparse.ArgumentParser()
p.add_argument('model'); p.add_argument('pairs'); p.add_argument('out')
p.add_argument('--batch', type=int, default=32); p.add_argument('--lr', type=float, default=2e-5)
p.add_argument('--steps', type=int, default=31); p.add_argument('--warmup', type=int, default=3)
p.add_argument('--seed', type=int, default=42); p.add_argument('--threads', type=int, default=2)
p.add_argument('--mini-batch', type=int, default=16); p.add_argument('--scale', type=float, default=20.0)
a = p.parse_args()

torch.set_num_threads(a.threads)
random.seed(a.seed); torch.manual_seed(a.seed)
model = SentenceTransformer(a.model, device='cpu')
rows = [json.loads(l) for l in open(a.pairs)]
# Rows without a mined negative cannot share a (q, pos, neg) batch; the framework treats them the same way
# when --hard-negatives 1 (its pair carries no negative) -- here they are dropped and counted.
triples = [(r['query'], r['positive'], r['negatives'][0]) for r in rows if r.get('negatives')]
loss_fn = losses.CachedMultipleNegativesRankingLoss(model, scale=a.scale, mini_batch_size=a.mini_batch)
opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda s: (s + 1) / a.warmup if s < a.warmup else max(0.0, (a.steps - s) / max(1, a.steps - a.warmup)))
order = []
t0 = time.time(); losses_seen = []
model.train()
for step in range(a.steps):
    if len(order) < a.batch:
        idx = list(range(len(triples))); random.shuffle(idx); order += idx
    batch = [triples[i] for i in order[:a.batch]]; order = order[a.batch:]
    feats = [model.tokenize([b[k] for b in batch]) for k in range(3)]
    loss = loss_fn(feats, None)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step(); sched.step(); opt.zero_grad()
    losses_seen.append(float(loss)); print(json.dumps({'step': step + 1, 'loss': float(loss)}), flush=True)
wall = time.time() - t0
model.save(a.out)
json.dump({'wall_s': wall, 'threads': a.threads, 'steps': a.steps, 'batch': a.batch, 'lr': a.lr,
           'triples': len(triples), 'dropped_without_negative': len(rows) - len(triples), 'losses': losses_seen},
          open(a.out.rstrip('/') + '.train.json', 'w'), indent=1)
print(json.dumps({'wall_s': wall}))
