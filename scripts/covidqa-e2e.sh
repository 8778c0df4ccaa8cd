#!/usr/bin/env bash
# COVID-QA dev report, end-to-end part: which adaptation adds what. Needs the outputs of
# covidqa-retriever.sh (retriever/, index/) and covidqa-generator.sh (lm/, generator/, bm25/).
# Usage: bash scripts/covidqa-e2e.sh [RUN_DIR]
set -euo pipefail
C=${COVIDQA:-../shared/bench/covidqa}
R=${1:-runs/covidqa}
LIMIT=${LIMIT:-100}
E="--qa $C/dev.jsonl --limit $LIMIT --max-new-tokens 32 --json"
# retriever-only: trained dense retriever + the LM-pretrained generator (not fine-tuned on questions)
pnpm -s dalm eval generator --generator "$R/lm" --index "$R/index" --mode dense -k 2 $E > "$R/eval-e2e-retriever-only.json"
# both trained separately: trained dense retriever + fine-tuned generator
pnpm -s dalm eval generator --generator "$R/generator" --index "$R/index" --mode dense -k 2 $E > "$R/eval-e2e-separate.json"
pnpm -s dalm eval generator --generator "$R/generator" --index "$R/index" --mode hybrid -k 2 $E > "$R/eval-e2e-separate-hybrid.json"
# joint: RAG-sequence training from both separately trained models (frozen passage vectors)
pnpm -s dalm train e2e --qa "$C/train.jsonl" --corpus "$C/corpus.jsonl" --retriever "$R/retriever" --generator "$R/generator" \
  --steps "${E2E_STEPS:-60}" --batch-size 2 -k 3 --retrieval-temperature 0.05 --lr 2e-4 --warmup-steps 5 --max-seq-length 256 \
  --run-dir "$R/train-e2e" --out "$R/e2e" --json > "$R/train-e2e.json"
pnpm -s dalm eval retriever --index "$R/e2e/index" --qa "$C/dev.jsonl" --json > "$R/eval-e2e-retriever.json"
pnpm -s dalm eval generator --generator "$R/e2e/generator" --index "$R/e2e/index" --mode dense -k 2 $E > "$R/eval-e2e-joint.json"
pnpm -s dalm eval generator --generator "$R/e2e/generator" --index "$R/e2e/index" --mode hybrid -k 2 $E > "$R/eval-e2e-joint-hybrid.json"
