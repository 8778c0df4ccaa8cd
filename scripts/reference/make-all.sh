#!/usr/bin/env bash
# Runs every reference script with the reference venv, writing into ${DALM_REFERENCE_DIR:-$HOME/.cache/dalm/reference}.
# Make the venv first: bash scripts/reference/setup-venv.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${DALM_PYREF:-$HOME/.cache/dalm/pyref}"
py="$venv/bin/python"
[ -x "$py" ] || { echo "make-all.sh: no reference venv at $venv; run bash scripts/reference/setup-venv.sh (or set DALM_PYREF)" >&2; exit 1; }
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# The scripts that write reference outputs (llama_train_parity.py writes numbers committed in the repo;
# hf_hub_cache_interop.py is run by its test).
for script in "$here"/make_st_fixtures.py "$here"/st_embeddings.py "$here"/make_decoder_fixtures.py "$here"/make_gguf_fixture.py "$here"/gguf_logits.py; do
  echo "== $(basename "$script")"
  "$py" "$script"
done
