#!/usr/bin/env bash
# `make cluster-test`: a sharded NIAH sweep through a real one-node Slurm cluster on this machine.
# Starts the cluster (local-slurm.sh: Debian's slurm-wlm and munge, loopback only) unless one runs already,
# runs a small NIAH grid unsharded, submits the same grid as 2 shards with `dapq-probe slurm niah --submit`
# (a job array and an afterok merge job), waits for the merge, checks the merged file equals the unsharded one
# cell for cell (timings excepted), prints both wall times, and stops what it started.
#   DAPQ_PROBE_BIN  the dapq-probe binary (default .build/release/dapq-probe)
#   CLUSTER_TEST_TIMEOUT  seconds to wait for the jobs (default 900)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=$(realpath "${DAPQ_PROBE_BIN:-.build/release/dapq-probe}")
PY=${DAPQ_PROBE_PYTHON:-$ROOT/.cache/venv-test/bin/python}
TIMEOUT=${CLUSTER_TEST_TIMEOUT:-900}
[ -x "$BIN" ] || { echo "cluster-test: $BIN is not built (make build)" >&2; exit 1; }
[ -x "$PY" ] || { echo "cluster-test: $PY missing (make venv-test)" >&2; exit 1; }

started=0
if ! scripts/cluster/local-slurm.sh status >/dev/null 2>&1; then
  eval "$(scripts/cluster/local-slurm.sh start)"
  started=1
else
  eval "$(scripts/cluster/local-slurm.sh env)"
fi
WORK=$(mktemp -d /tmp/dapq-cluster-test.XXXXXX)
cleanup() {
  [ "$started" = 1 ] && scripts/cluster/local-slurm.sh stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

GRID=(--lengths 500 --depths 0,50,100 --policies full,snapkv,dapq --budgets 32 --window 16 --pseudo-count 16 --progress never)

t0=$(date +%s%N)
"$BIN" niah "${GRID[@]}" --out "$WORK/whole.h5" >/dev/null
t1=$(date +%s%N)
echo "cluster-test: unsharded run $(( (t1 - t0) / 1000000 )) ms"

"$BIN" slurm niah --shards 2 --out "$WORK/merged.h5" --cpus-per-task 1 --submit -- "${GRID[@]}" > "$WORK/slurm.txt"
merge_job=$(sed -n 's/.*merge job \([0-9]*\).*/\1/p' "$WORK/slurm.txt")
[ -n "$merge_job" ] || { echo "cluster-test: no merge job id in:" >&2; cat "$WORK/slurm.txt" >&2; exit 1; }
echo "cluster-test: $(grep '^submitted' "$WORK/slurm.txt")"

deadline=$(( $(date +%s) + TIMEOUT ))
while [ ! -f "$WORK/merged.h5" ]; do
  state=$(scontrol show job "$merge_job" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p;s/^Reason=//p' | tr '\n' ' ')
  case "$state" in
    *FAILED*|*CANCELLED*|*TIMEOUT*|*DependencyNeverSatisfied*)
      echo "cluster-test: the jobs failed ($state); logs:" >&2
      tail -n 5 "$WORK"/merged.h5.slurm/logs/*.log >&2 || true
      exit 1;;
  esac
  [ "$(date +%s)" -lt "$deadline" ] || { echo "cluster-test: no merged file after $TIMEOUT s (merge job: $state)" >&2; exit 1; }
  sleep 1
done
t2=$(date +%s%N)
echo "cluster-test: sharded run on Slurm (2 shards, submit to merged file) $(( (t2 - t1) / 1000000 )) ms"
"$PY" scripts/cluster/compare_eval.py "$WORK/whole.h5" "$WORK/merged.h5"
echo "cluster-test: OK"
