#!/usr/bin/env bash
# Runs every reference script (scripts/reference/*.py except the check_*.py tools, which take arguments) with the reference venv, writing into ${DALM_REFERENCE_DIR:-$HOME/.cache/dalm/reference}.
# Make the venv first: bash scripts/reference/setup-venv.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${DALM_PYREF:-$HOME/.cache/dalm/pyref}"
py="$venv/bin/python"
[ -x "$py" ] || { echo "make-all.sh: no reference venv at $venv; run bash scripts/reference/setup-venv.sh (or set DALM_PYREF)" >&2; exit 1; }
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
for script in "$here"/*.py; do
  case "$(basename "$script")" in check_*) continue ;; esac
  echo "== $(basename "$script")"
  "$py" "$script"
done
