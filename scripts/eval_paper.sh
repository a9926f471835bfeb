#!/usr/bin/env bash
# The paper's operating point (`make eval-paper`): NIAH on the essays at long contexts x 11 depths, RULER S-NIAH-1/2/3
# x 20 samples, budgets of about 1.5%, 3% and 6% of the length plus 64 entries per KV head, every policy, the
# question inside and outside. One sweep (one HDF5 + CSV) per task set, length and placement, each resumable; with
# SLURM_SHARDS=N each sweep becomes a Slurm job array of N shards and a merge (`dapq-probe slurm`).
#
# Budgets per length L: L/64, L/32 and L/16 rounded to the nearest power of two (for 8000 tokens 128, 256, 512 entries;
# for 2000 tokens 32, 64, 128), and 64. With the question outside, the appended question's 25-45 tokens count in the
# budget (both placements decode from caches of the same size), so budgets under 64 are left out there.
#
# usage: scripts/eval_paper.sh   (make eval-paper MODEL=… sets these)
#   MODEL          catalogue name (default qwen2.5-coder-0.5b)
#   BIN            the dapq-probe binary (default .build/release/dapq-probe)
#   OUT            where the sweeps go (default out/eval-paper/MODEL, git-ignored)
#   RESULTS        where the tables (summary.md) and each sweep's CSV and plots (RESULTS/<sweep>/) go
#                  (default notebooks-data/eval/MODEL/paper)
#   THREADS        numeric threads (default 2)
#   NIAH_LENGTHS   default 2000 4000 8000 16000 (qwen2.5-coder-1.5b: up to 8000; smollm2-135m: 2000 4000, its context is 8192)
#   RULER_LENGTHS  default 4000 8000 (smollm2-135m: 4000)
#   DEPTHS         default 0,10,…,100;  SAMPLES  default 20;  SEED  default 0 (the RULER draws)
#   POLICIES       default every policy, the full cache first
#   PLACEMENTS     default "inside outside"
#   SWEEP_ARGS     extra options for every sweep (e.g. --needle/--question/--answer for a held-out needle)
#   SLURM_SHARDS   0 (default): run here; N: write (and with SLURM_ARGS=--submit submit) a job array per sweep
#   SLURM_ARGS     options of `dapq-probe slurm` (--partition, --time, --mem, --cpus-per-task, --submit)
set -euo pipefail
MODEL=${MODEL:-qwen2.5-coder-0.5b}
BIN=${BIN:-.build/release/dapq-probe}
OUT=${OUT:-out/eval-paper/$MODEL}
RESULTS=${RESULTS:-notebooks-data/eval/$MODEL/paper}
THREADS=${THREADS:-2}
PY=${PY:-.cache/venv-test/bin/python}
case "$MODEL" in
  qwen2.5-coder-1.5b) default_niah="2000 4000 8000"; default_ruler="4000 8000" ;;
  smollm2-135m) default_niah="2000 4000"; default_ruler="4000" ;;
  *) default_niah="2000 4000 8000 16000"; default_ruler="4000 8000" ;;
esac
NIAH_LENGTHS=${NIAH_LENGTHS:-$default_niah}
RULER_LENGTHS=${RULER_LENGTHS:-$default_ruler}
DEPTHS=${DEPTHS:-0,10,20,30,40,50,60,70,80,90,100}
SAMPLES=${SAMPLES:-20}
SEED=${SEED:-0}
POLICIES=${POLICIES:-lookahead-full,full,dapq,snapkv,laq,pyramidkv,tova,expected,h2o,streaming,random,oracle}
PLACEMENTS=${PLACEMENTS:-inside outside}
SWEEP_ARGS=${SWEEP_ARGS:-}
SLURM_SHARDS=${SLURM_SHARDS:-0}
SLURM_ARGS=${SLURM_ARGS:-}

# The power of two nearest to x (ties up).
nearest_power_of_two() {
  local x=$1 p=1
  while [ $((p * 2)) -le "$x" ]; do p=$((p * 2)); done
  if [ $((x - p)) -ge $((2 * p - x)) ]; then p=$((2 * p)); fi
  echo "$p"
}

# The budgets of length L and a placement: 64 and the powers of two nearest to L/64, L/32, L/16, sorted, each once;
# outside, none under 64.
budgets_for() {
  local L=$1 placement=$2 floor=1
  if [ "$placement" = outside ]; then floor=64; fi
  { echo 64; for d in 64 32 16; do nearest_power_of_two $(((L + d / 2) / d)); done; } \
    | awk -v floor="$floor" '$1 >= floor' | sort -n | uniq | paste -sd, -
}

mkdir -p "$OUT" "$RESULTS"
sweeps=()
# One sweep: its name, then the command's words (niah or ruler and their options).
run_sweep() {
  local name=$1; shift
  local out="$OUT/$name.h5"
  sweeps+=("$name")
  if [ -f "$out" ]; then echo "eval-paper: $out is complete, kept"; return; fi
  if [ "$SLURM_SHARDS" != 0 ]; then
    # shellcheck disable=SC2086
    "$BIN" slurm "$1" --shards "$SLURM_SHARDS" --out "$out" $SLURM_ARGS -- "${@:2}" --model "$MODEL" $SWEEP_ARGS
    return
  fi
  echo "eval-paper: $name ($(date -u +%H:%M:%S))"
  # shellcheck disable=SC2086
  "$BIN" "$@" --model "$MODEL" --threads "$THREADS" --out "$out" --resume --progress auto $SWEEP_ARGS \
    > "$OUT/$name.txt"
  cat "$OUT/$name.txt"
}

for placement in $PLACEMENTS; do
  for L in $NIAH_LENGTHS; do
    run_sweep "niah-L$L-$placement" niah --lengths "$L" --depths "$DEPTHS" --policies "$POLICIES" \
      --budgets "$(budgets_for "$L" "$placement")" --question-placement "$placement"
  done
  for L in $RULER_LENGTHS; do
    run_sweep "ruler-L$L-$placement" ruler --task niah_single_1,niah_single_2,niah_single_3 --lengths "$L" \
      --samples "$SAMPLES" --seed "$SEED" --policies "$POLICIES" --budgets "$(budgets_for "$L" "$placement")" \
      --question-placement "$placement"
  done
done

if [ "$SLURM_SHARDS" != 0 ]; then
  echo "eval-paper: Slurm scripts written under $OUT/*.h5.slurm/; run make eval-paper again (SLURM_SHARDS=0) once the merges are done, for the tables and plots"
  exit 0
fi

# The tables (score and kept span recall per policy x budget) and plots of every finished sweep.
files=()
for name in "${sweeps[@]}"; do
  [ -f "$OUT/$name.h5" ] || continue
  files+=("$OUT/$name.h5")
  mkdir -p "$RESULTS/$name"
  cp "$OUT/$name.csv" "$RESULTS/$name/"
  "$PY" notebooks-data/plot_eval.py "$OUT/$name.h5" --out "$RESULTS/$name" > /dev/null
done
{
  echo "# make eval-paper MODEL=$MODEL: mean score (kept span recall) [exact/total] per policy x budget"
  echo
  "$PY" notebooks-data/eval_table.py "${files[@]}" --exact
} > "$RESULTS/summary.md"
echo "eval-paper: tables in $RESULTS/summary.md, each sweep's CSV and plots in $RESULTS/<sweep>/"
