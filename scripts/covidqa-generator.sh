#!/usr/bin/env bash
# COVID-QA dev report, generator part: closed-book vs retrieval-augmented vs retrieval-augmented + fine-tuned.
# Usage: bash scripts/covidqa-generator.sh [RUN_DIR]   (reads ../shared/bench/covidqa)
set -euo pipefail
C=${COVIDQA:-../shared/bench/covidqa}
R=${1:-runs/covidqa}
LIMIT=${LIMIT:-100}
mkdir -p "$R"
[ -d "$R/bm25" ] || pnpm -s dalm index "$C/corpus.jsonl" --chunk-tokens 0 --out "$R/bm25"
# 1. A from-scratch generator, pretrained on the corpus text (domain-adaptive LM pretraining).
pnpm -s dalm train lm --corpus "$C/corpus.jsonl" --size tiny --steps "${LM_STEPS:-300}" --batch-size 8 --max-seq-length 256 \
  --run-dir "$R/train-lm" --checkpoint-every 100 --out "$R/lm" --json > "$R/train-lm.json"
E="--qa $C/dev.jsonl --limit $LIMIT --max-new-tokens 32 --json"
pnpm -s dalm eval generator --generator "$R/lm" --closed-book $E > "$R/eval-lm-closed.json"
pnpm -s dalm eval generator --generator "$R/lm" --index "$R/bm25" --mode bm25 -k 2 $E > "$R/eval-lm-rag.json"
# 2. Fine-tuned on retrieved context (BM25 top-2, RAFT: gold passage in 80% of examples).
pnpm -s dalm train generator --qa "$C/train.jsonl" --index "$R/bm25" --mode bm25 -k 2 --gold-share 0.8 --base "$R/lm" \
  --steps "${GEN_STEPS:-300}" --batch-size 8 --lr 1e-3 --max-seq-length 384 \
  --run-dir "$R/train-generator" --checkpoint-every 100 --out "$R/generator" --json > "$R/train-generator.json"
pnpm -s dalm eval generator --generator "$R/generator" --index "$R/bm25" --mode bm25 -k 2 $E > "$R/eval-gen-rag.json"
pnpm -s dalm eval generator --generator "$R/generator" --closed-book $E > "$R/eval-gen-closed.json"
