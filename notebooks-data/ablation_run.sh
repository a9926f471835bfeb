#!/usr/bin/env bash
# The ablation study behind notebooks-data/ablation/MODEL/summary.csv (README, "Ablation: where versus what"):
# nine prompts (six needle-in-a-haystack contexts of 1k-2k tokens from the Paul Graham essays, three ordinary
# instructions), each captured with greedy decoding (chat template, up to 32 steps; the needle prompts with
# --needle VALUE, so their captures carry prompt/answer_span), then ablated together.
#
# usage: notebooks-data/ablation_run.sh   (after `make build venv-test`, and `make models` for a Qwen model;
#        about 15 minutes on 2 cores for smollm2-135m, about an hour for qwen2.5-coder-0.5b)
#   MODEL    catalogue name (default smollm2-135m; also qwen2.5-coder-0.5b, qwen2.5-coder-1.5b)
#   BIN      the dapq-probe binary (default .build/release/dapq-probe)
#   OUT      working folder, git-ignored (default out/ablation/MODEL)
#   THREADS  numeric threads (default 2)
set -euo pipefail
MODEL=${MODEL:-smollm2-135m}
BIN=${BIN:-.build/release/dapq-probe}
OUT=${OUT:-out/ablation/$MODEL}
PY=${PY:-.cache/venv-test/bin/python}
THREADS=${THREADS:-2}
RESULTS=notebooks-data/ablation/$MODEL
mkdir -p "$OUT/captures" "$RESULTS"
"$PY" notebooks-data/make_ablation_prompts.py --out "$OUT/prompts" --binary "$BIN" --model "$MODEL"
for prompt in "$OUT"/prompts/*.txt; do
  name=$(basename "$prompt" .txt)
  needle=()
  if [ -f "$OUT/prompts/$name.needle" ]; then needle=(--needle "$(cat "$OUT/prompts/$name.needle")"); fi
  "$BIN" capture --model "$MODEL" --chat --prompt-file "$prompt" --steps 32 --threads "$THREADS" \
    "${needle[@]}" --out "$OUT/captures/$name.h5" --force
done
"$BIN" ablate "$OUT/captures" --out "$OUT/ablation.h5" --threads "$THREADS" --force | tee "$OUT/ablation.txt"
"$PY" notebooks-data/ablation_summary.py "$OUT/ablation.h5" --out "$RESULTS/summary.csv" \
  --by-layer "$RESULTS/by_layer.csv" --retrieval "$RESULTS/retrieval_heads.csv" \
  --command "notebooks-data/ablation_run.sh (MODEL=$MODEL BIN=$BIN THREADS=$THREADS)"
"$PY" notebooks-data/plot_ablation.py "$OUT/ablation.h5" --out "$OUT/plots"
# the figures of the README's tables: the grid, recall by layer, and the retrieval heads' heat map (drawn when
# some capture copies from its prompt)
for png in ablation_grid ablation_layers ablation_retrieval; do
  if [ -f "$OUT/plots/$png.png" ]; then cp "$OUT/plots/$png.png" "$RESULTS/"; fi
done
