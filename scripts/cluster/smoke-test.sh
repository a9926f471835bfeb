#!/usr/bin/env bash
# Smoke test of the local one-node Slurm cluster (scripts/cluster/local-slurm.sh): a 3-task job array whose
# tasks each write a file, and a job with --dependency=afterok:<array> that checks the three files and writes
# a marker. Starts the cluster when it is not running and stops it again afterwards (only if it started it).
# Waits by polling for the marker and `scontrol show job` (no sacct: there is no accounting storage).
#   DAPQ_SMOKE_TIMEOUT  seconds to wait for the jobs (default 120)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CLUSTER="$HERE/local-slurm.sh"
TIMEOUT=${DAPQ_SMOKE_TIMEOUT:-120}

fail() { echo "smoke-test: FAIL: $*" >&2; exit 1; }

started=0
work=""
cleanup() {
  local rc=$?
  [ -n "$work" ] && rm -rf "$work"
  if [ $started -eq 1 ]; then "$CLUSTER" stop || rc=1; fi
  exit $rc
}
trap cleanup EXIT

t0=$(date +%s)
if ! "$CLUSTER" status >/dev/null 2>&1; then
  started=1
  eval "$("$CLUSTER" start)"
else
  eval "$("$CLUSTER" env)"
fi
export SLURM_CONF
echo "smoke-test: cluster ready (SLURM_CONF=$SLURM_CONF)"

# The job's folder must be writable by whoever the jobs run as (the submitting user).
work=$(mktemp -d "${TMPDIR:-/tmp}/dapq-slurm-smoke.XXXXXX")
chmod 755 "$work"

# shellcheck disable=SC2016  # the $VARIABLES are for the job's shell
array=$(sbatch --parsable --job-name=smoke-array --array=0-2 --chdir="$work" --output="$work/array-%A_%a.log" \
  --wrap 'echo "task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname)" > "out.$SLURM_ARRAY_TASK_ID"') \
  || fail "sbatch of the job array was refused"
array=${array%%;*}
# shellcheck disable=SC2016
check=$(sbatch --parsable --job-name=smoke-check --dependency="afterok:$array" --chdir="$work" \
  --output="$work/check.log" \
  --wrap 'for i in 0 1 2; do grep -q "^task $i of job '"$array"' " "out.$i" || { echo "missing or wrong out.$i"; exit 1; }; done
          echo ok > marker') \
  || fail "sbatch of the dependent job was refused"
check=${check%%;*}
echo "smoke-test: submitted array $array (tasks 0-2) and job $check (afterok:$array)"

# job_state ID: JobState of one job (first record for an array), empty when slurmctld no longer knows it.
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }

deadline=$(( $(date +%s) + TIMEOUT ))
while [ ! -s "$work/marker" ]; do
  state=$(job_state "$check")
  reason=$(scontrol show job "$check" 2>/dev/null | sed -n 's/.*Reason=\([^ ]*\).*/\1/p' | head -1)
  case $state in
    FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)
      cat "$work/check.log" >&2 2>/dev/null || true
      fail "the dependent job $check ended $state" ;;
    COMPLETED) [ -s "$work/marker" ] || fail "job $check completed but wrote no marker" ;;
  esac
  [ "$reason" = DependencyNeverSatisfied ] && { scontrol show job "$array" >&2; fail "array $array did not succeed (dependency never satisfied)"; }
  if [ "$(date +%s)" -ge "$deadline" ]; then
    squeue >&2 || true
    scontrol show job "$array" >&2 || true
    fail "no marker after ${TIMEOUT}s"
  fi
  sleep 0.5
done

# The marker exists; confirm all four jobs completed in Slurm's own view and in order.
for i in 0 1 2; do
  s=$(job_state "${array}_$i")
  [ "$s" = COMPLETED ] || fail "array task ${array}_$i is $s"
done
s=""
for _ in $(seq 20); do s=$(job_state "$check"); [ "$s" = COMPLETED ] && break; sleep 0.5; done
[ "$s" = COMPLETED ] || fail "job $check is $s"
echo "smoke-test: array $array (3 tasks) and dependent job $check completed in $(( $(date +%s) - t0 )) s: OK"
