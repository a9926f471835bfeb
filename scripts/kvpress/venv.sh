#!/usr/bin/env bash
# Builds the throwaway venv of the kvpress cross-check (issue 10) when missing; a second run does nothing.
#   .cache/venv-kvpress   kvpress 0.5.5 + CPU-only torch + transformers (which loads the GGUF) + gguf + numpy
# kvpress 0.5.5 requires transformers >=4.56,<5.3; transformers 5.2.0 loads llama GGUF files (dequantized).
# Everything comes from PyPI; the CPU-only torch wheel is torch==2.13.0+cpu (as in scripts/bench/venvs.sh).
# Override with KVPRESS_SPEC / TRANSFORMERS_SPEC / TORCH_SPEC.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${DAPQ_PROBE_CACHE:-$PWD/.cache}
VENV="$CACHE/venv-kvpress"
KVPRESS_SPEC=${KVPRESS_SPEC:-kvpress==0.5.5}
TRANSFORMERS_SPEC=${TRANSFORMERS_SPEC:-transformers==5.2.0}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0+cpu}
CHECK='import kvpress, torch, transformers, gguf, numpy, accelerate'

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$CHECK" 2>/dev/null; then
  echo "kvpress venv: $VENV is ready"
  exit 0
fi
echo "kvpress venv: building $VENV ($KVPRESS_SPEC, $TRANSFORMERS_SPEC, $TORCH_SPEC)"
start=$(date +%s)
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "$TORCH_SPEC" "$KVPRESS_SPEC" "$TRANSFORMERS_SPEC" gguf==0.19.0 accelerate numpy
"$VENV/bin/python" -c "$CHECK"
"$VENV/bin/pip" freeze > "$VENV/freeze.txt"
echo "kvpress venv: $VENV built in $(( $(date +%s) - start )) s ($(du -sh "$VENV" | cut -f1)); versions in $VENV/freeze.txt"
