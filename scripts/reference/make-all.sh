#!/usr/bin/env bash
# Runs every reference script (scripts/reference/*.py except the check_*.py tools, which take arguments) with the reference venv, writing into ${DALM_REFERENCE_DIR:-$HOME/.cache/dalm/reference}.
# Make the venv first: bash scripts/reference/setup-venv.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${DALM_PYREF:-$HOME/.cache/dalm/pyref}"
py="$venv/bin/python"
[ -x "$py" ] || { echo "make-all.sh: no reference venv at $venv; run bash scripts/reference/setup-venv.sh (or set DALM_PYREF)" >&2; exit 1; }
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# The scripts that write reference outputs (llama_train_parity.py writes numbers committed in the repo;
# hf_hub_cache_interop.py is run by its test).
# A script whose source and the venv's requirements are unchanged since its last successful run is
# skipped (stamp in the reference directory); DALM_REFERENCE_FORCE=1 reruns all.
refdir="${DALM_REFERENCE_DIR:-$HOME/.cache/dalm/reference}"
mkdir -p "$refdir/.stamps"
for script in "$here"/make_st_fixtures.py "$here"/st_embeddings.py "$here"/make_decoder_fixtures.py "$here"/make_gguf_fixture.py "$here"/gguf_logits.py; do
  name="$(basename "$script")"
  stamp="$refdir/.stamps/$name"
  want="$(cat "$script" "$here/requirements.txt" | sha256sum | cut -d' ' -f1)"
  if [ "${DALM_REFERENCE_FORCE:-0}" != 1 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "== $name: up to date"
    continue
  fi
  echo "== $name"
  "$py" "$script"
  echo "$want" > "$stamp"
done
