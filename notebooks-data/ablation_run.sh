#!/usr/bin/env bash
# The ablation study behind notebooks-data/ablation_summary.csv (README, "Ablation: where versus what"):
# nine prompts (six needle-in-a-haystack contexts of 1k-2k tokens from the Paul Graham essays, three ordinary
# instructions), each captured with greedy decoding (chat template, up to 32 steps), then ablated together.
#
# usage: notebooks-data/ablation_run.sh        (after `make build venv-test`; about 15 minutes on 2 cores)
#   BIN      the dapq-probe binary (default .build/release/dapq-probe)
#   OUT      working folder, git-ignored (default out/ablation)
#   THREADS  numeric threads (default 2)
set -euo pipefail
BIN=${BIN:-.build/release/dapq-probe}
OUT=${OUT:-out/ablation}
PY=${PY:-.cache/venv-test/bin/python}
THREADS=${THREADS:-2}
mkdir -p "$OUT/captures"
"$PY" notebooks-data/make_ablation_prompts.py --out "$OUT/prompts" --binary "$BIN"
for prompt in "$OUT"/prompts/*.txt; do
  name=$(basename "$prompt" .txt)
  "$BIN" capture --chat --prompt-file "$prompt" --steps 32 --threads "$THREADS" --out "$OUT/captures/$name.h5" --force
done
"$BIN" ablate "$OUT/captures" --out "$OUT/ablation.h5" --threads "$THREADS" --force | tee "$OUT/ablation.txt"
"$PY" notebooks-data/ablation_summary.py "$OUT/ablation.h5" --out notebooks-data/ablation_summary.csv \
  --by-layer notebooks-data/ablation_by_layer.csv \
  --command "notebooks-data/ablation_run.sh (BIN=$BIN THREADS=$THREADS)"
"$PY" notebooks-data/plot_ablation.py "$OUT/ablation.h5" --out "$OUT/plots"
