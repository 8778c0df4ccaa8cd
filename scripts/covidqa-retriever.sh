#!/usr/bin/env bash
# COVID-QA dev report, retriever part: BM25, dense before/after training, hybrid.
# Usage: bash scripts/covidqa-retriever.sh [RUN_DIR]   (reads ../shared/bench/covidqa)
set -euo pipefail
C=${COVIDQA:-../shared/bench/covidqa}
R=${1:-runs/covidqa}
STEPS=${STEPS:-200}
mkdir -p "$R"
pnpm -s dalm pairs --qa "$C/train.jsonl" --corpus "$C/corpus.jsonl" --negatives-from bm25 --hard-negatives 1 --out "$R/pairs.jsonl"
pnpm -s dalm train retriever --pairs "$R/pairs.jsonl" --tokenizer-corpus "$C/corpus.jsonl" --size tiny \
  --steps "$STEPS" --batch-size 32 --grad-cache-chunk 16 --hard-negatives 0 --lr 1e-3 --warmup-steps 20 --scale 20 \
  --eval-qa "$C/dev.jsonl" --eval-corpus "$C/corpus.jsonl" \
  --run-dir "$R/train-retriever" --checkpoint-every 50 --out "$R/retriever" --json > "$R/train-retriever.json"
pnpm -s dalm index "$C/corpus.jsonl" --chunk-tokens 0 --retriever "$R/retriever" --dense-kind exact --out "$R/index"
pnpm -s dalm eval retriever --index "$R/index" --qa "$C/dev.jsonl" --json > "$R/eval-retriever.json"
