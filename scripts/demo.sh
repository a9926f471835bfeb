#!/usr/bin/env bash
# The main job on one short needle prompt, end to end (what `make demo` runs after building):
#   1. a needle-in-a-haystack prompt of about 500 tokens from the essays (a magic number hidden at 40% depth)
#   2. capture: prefill, greedy answer, true decoding queries and prompt keys, the needle's value as the answer
#      span -> capture.h5 (prints the answer)
#   3. inspect: the capture's attributes and datasets
#   4. ablate: the content x position grid of pseudo queries against the truth -> ablation.h5 + headline table
#   5. plots: the capture's attention heat maps and the ablation's grid and by-layer curves (PNG)
# Idempotent: every output is rewritten (--force). Files go to DEMO_DIR (default out/demo, git-ignored).
#   MODEL    catalogue name or GGUF path (default smollm2-135m)
#   BIN      the dapq-probe binary (default .build/release/dapq-probe)
#   THREADS  numeric threads (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-smollm2-135m}
BIN=${BIN:-.build/release/dapq-probe}
THREADS=${THREADS:-2}
DIR=${DEMO_DIR:-out/demo}
PY=${PY:-.cache/venv-test/bin/python}
CORPUS=${DAPQ_PROBE_CACHE:-.cache}/corpus/PaulGrahamEssays
NEEDLE="The special magic number for the blue lighthouse is 4721."
mkdir -p "$DIR/plots"

echo "== 1. prompt: a needle at 40% depth of about 450 words of the essays"
"$PY" - "$CORPUS" "$NEEDLE" "$DIR/prompt.txt" <<'PY'
import os, re, sys
corpus, needle, out = sys.argv[1:4]
name = sorted(n for n in os.listdir(corpus) if n.endswith(".txt"))[0]
text = re.sub(r"\s+", " ", open(os.path.join(corpus, name), encoding="utf-8").read()).strip()
sentences, words = [], 0
for s in re.split(r"(?<=[.!?])\s+", text):
    if words > 450:
        break
    sentences.append(s)
    words += len(s.split())
at = round(0.4 * len(sentences))
body = " ".join(sentences[:at] + [needle] + sentences[at:])
question = "What is the special magic number for the blue lighthouse? Answer in one short sentence."
open(out, "w", encoding="utf-8").write(body + "\n\nQuestion: " + question)
PY
echo "   $DIR/prompt.txt"

echo "== 2. capture"
"$BIN" capture --model "$MODEL" --chat --prompt-file "$DIR/prompt.txt" --steps 24 --threads "$THREADS" \
  --needle "4721" --out "$DIR/capture.h5" --force

echo "== 3. inspect"
"$BIN" inspect "$DIR/capture.h5"

echo "== 4. ablate (content x position grid, references window / lookahead / truth)"
"$BIN" ablate "$DIR/capture.h5" --out "$DIR/ablation.h5" --threads "$THREADS" --force

echo "== 5. plots"
"$PY" notebooks-data/plot_capture.py "$DIR/capture.h5" --out "$DIR/plots"
"$PY" notebooks-data/plot_ablation.py "$DIR/ablation.h5" --out "$DIR/plots"

echo
echo "Files:"
for f in "$DIR/prompt.txt" "$DIR/capture.h5" "$DIR/ablation.h5" "$DIR"/plots/*.png; do
  printf '  %-40s %s\n' "$f" "$(du -h "$f" | cut -f1)"
done
