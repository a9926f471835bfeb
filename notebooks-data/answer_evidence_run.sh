#!/usr/bin/env bash
# The answer-level study behind the README's "From attention to answers" (issue 19), on one model:
#   grid     NIAH x 11 depths with every policy and the content x position grid of dapq cells, the question inside
#            (each prompt saved with --save-prompts for the join);
#   outside  the same NIAH prompts, every policy, the question outside (query-agnostic);
#   ruler    RULER S-NIAH-1/2/3 x 20 samples, every policy;
#   predict  captures of the grid's prompts (at the first length), ablated with the same cells and budgets, joined
#            with the grid's answers by notebooks-data/predict_answers.py; the retrieval heads of those captures.
# Then every compressed cell of the sweeps against what its cut cache kept of the span (predict_kept.csv).
# Every sweep's cells carry the answer's span and what each cut cache kept of it (span_recall, per head too).
# Results: CSVs, the tables (eval_table.py) and the prediction table into notebooks-data/eval/MODEL/answers/.
#
# usage: notebooks-data/answer_evidence_run.sh   (after `make build venv-test`, and `make models` for a Qwen model)
#   MODEL     catalogue name (default qwen2.5-coder-0.5b)
#   PARTS     which parts, in order (default "grid outside ruler predict")
#   LENGTHS   NIAH lengths (default 2000,4000);  RULER_LENGTH  (default 2000)
#   BUDGETS   NIAH budgets (default 64,128,256);  RULER_BUDGETS  (default 64,128,256,512)
#   DEPTHS (default 0,10,…,100), SAMPLES (RULER, default 20)
#   BIN, OUT (default out/answers/MODEL), RESULTS (default notebooks-data/eval/MODEL/answers), THREADS (default 2)
# About 75 minutes on the idle 2-core machine for qwen2.5-coder-0.5b (grid 20, outside 14, ruler 35, predict 6).
set -euo pipefail
MODEL=${MODEL:-qwen2.5-coder-0.5b}
BIN=${BIN:-.build/release/dapq-probe}
OUT=${OUT:-out/answers/$MODEL}
PY=${PY:-.cache/venv-test/bin/python}
THREADS=${THREADS:-2}
PARTS=${PARTS:-grid outside ruler predict}
LENGTHS=${LENGTHS:-2000,4000}
RULER_LENGTH=${RULER_LENGTH:-2000}
BUDGETS=${BUDGETS:-64,128,256}
RULER_BUDGETS=${RULER_BUDGETS:-64,128,256,512}
RESULTS=${RESULTS:-notebooks-data/eval/$MODEL/answers}
DEPTHS=${DEPTHS:-0,10,20,30,40,50,60,70,80,90,100}
SAMPLES=${SAMPLES:-20}
POLICIES=full,lookahead-full,dapq,snapkv,laq,h2o,streaming,pyramidkv,tova,expected,random,oracle
NEEDLE="The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day."
CELLS=""
for content in suffix prefix+suffix random oracle; do
  for position in future input far fixed; do CELLS="$CELLS,dapq[content=$content,position=$position]"; done
done
mkdir -p "$OUT" "$RESULTS"

sweep() {  # name, then the sweep's words
  local name=$1; shift
  echo "== $name ($(date -u +%H:%M:%S))"
  "$BIN" "$@" --model "$MODEL" --threads "$THREADS" --out "$OUT/$name.h5" --resume --progress auto | tee "$OUT/$name.txt"
  cp "$OUT/$name.csv" "$RESULTS/"
}

for part in $PARTS; do
  case $part in
    grid)
      sweep niah-inside niah --lengths "$LENGTHS" --depths "$DEPTHS" --policies "$POLICIES$CELLS" --budgets "$BUDGETS" \
        --save-prompts "$OUT/prompts" ;;
    outside)
      sweep niah-outside niah --lengths "$LENGTHS" --depths "$DEPTHS" --policies "$POLICIES" --budgets "$BUDGETS" \
        --question-placement outside ;;
    ruler)
      sweep ruler ruler --task niah_single_1,niah_single_2,niah_single_3 --lengths "$RULER_LENGTH" --samples "$SAMPLES" --seed 0 \
        --policies "$POLICIES" --budgets "$RULER_BUDGETS" ;;
    predict)
      first=${LENGTHS%%,*}
      mkdir -p "$OUT/captures"
      for prompt in "$OUT"/prompts/niah_L"$first"_*.txt; do
        name=$(basename "$prompt" .txt)
        [ -f "$OUT/captures/$name.h5" ] || "$BIN" capture --model "$MODEL" --threads "$THREADS" --prompt-file "$prompt" \
          --steps 32 --needle "$NEEDLE" --out "$OUT/captures/$name.h5" --progress never > /dev/null
      done
      "$BIN" ablate "$OUT/captures" --out "$OUT/ablation.h5" --threads "$THREADS" --content suffix,prefix+suffix,random,oracle \
        --position future,input,far,fixed --budgets "$BUDGETS" --force --progress auto | tee "$OUT/ablation.txt"
      "$PY" notebooks-data/ablation_summary.py "$OUT/ablation.h5" --out "$RESULTS/ablation_summary.csv" \
        --retrieval "$RESULTS/retrieval_heads.csv"
      "$PY" notebooks-data/predict_answers.py --ablation "$OUT/ablation.h5" --eval "$OUT/niah-inside.h5" \
        --retrieval-heads "$RESULTS/retrieval_heads.csv" --out "$RESULTS/predict.csv" | tee "$OUT/predict.txt" ;;
    *) echo "answer_evidence_run.sh: unknown part '$part' (grid, outside, ruler, predict)" >&2; exit 2 ;;
  esac
done

# Every compressed cell of every sweep (all policies, no join): how well what the cut cache kept of the span predicts
# the answer, over all KV heads, the layers' worst, the retrieval KV heads and the others.
# NIAH (both placements) into predict_kept.csv, RULER into predict_kept_ruler.csv.
kept=()
for name in niah-inside niah-outside; do
  if [ -f "$OUT/$name.h5" ]; then kept+=("$OUT/$name.h5"); fi
done
if [ -f "$RESULTS/retrieval_heads.csv" ]; then
  if [ ${#kept[@]} -gt 0 ]; then
    "$PY" notebooks-data/predict_answers.py --eval "${kept[@]}" --placement any --retrieval-heads "$RESULTS/retrieval_heads.csv" \
      --out "$RESULTS/predict_kept.csv" > "$OUT/predict_kept.txt"
  fi
  if [ -f "$OUT/ruler.h5" ]; then
    "$PY" notebooks-data/predict_answers.py --eval "$OUT/ruler.h5" --retrieval-heads "$RESULTS/retrieval_heads.csv" \
      --out "$RESULTS/predict_kept_ruler.csv" > "$OUT/predict_kept_ruler.txt"
  fi
fi

# The tables: score (span recall, all KV heads / retrieval KV heads) [exact/total] per policy x budget.
heads=()
if [ -f "$RESULTS/retrieval_heads.csv" ]; then heads=(--retrieval-heads "$RESULTS/retrieval_heads.csv"); fi
files=()
for name in niah-inside niah-outside ruler; do
  if [ -f "$OUT/$name.h5" ]; then files+=("$OUT/$name.h5"); fi
done
if [ ${#files[@]} -gt 0 ]; then
  {
    echo "# notebooks-data/answer_evidence_run.sh (MODEL=$MODEL): mean score (span recall: all KV heads / retrieval KV heads) [exact/total]"
    echo
    "$PY" notebooks-data/eval_table.py "${files[@]}" --exact "${heads[@]}"
  } > "$RESULTS/tables.md"
  echo "tables: $RESULTS/tables.md"
fi
