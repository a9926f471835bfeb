#!/usr/bin/env bash
# A throwaway one-node Slurm cluster on this machine, from Debian's packages (slurm-wlm, munge), as root,
# without systemd, loopback only. Everything it writes lives in one folder ($DAPQ_SLURM_DIR, default
# /tmp/dapq-slurm). See scripts/cluster/README.md for every configuration choice.
#
#   local-slurm.sh start    install the packages when missing, start munged + slurmctld + slurmd, wait until
#                           the node is idle, print `export SLURM_CONF=...` on stdout (progress goes to stderr),
#                           so `eval "$(scripts/cluster/local-slurm.sh start)"` works. A second start while
#                           the cluster runs starts nothing and prints the same line.
#   local-slurm.sh env      print the `export SLURM_CONF=...` line (fails when the cluster is not running)
#   local-slurm.sh status   sinfo and squeue; exit 0 when the cluster answers, 3 when it is not running
#   local-slurm.sh stop     cancel the jobs, stop slurmd, slurmctld and munged; leaves no process behind
#
# Environment:
#   DAPQ_SLURM_DIR            state folder (default /tmp/dapq-slurm)
#   DAPQ_SLURM_CTLD_PORT      slurmctld port on 127.0.0.1 (default 26817)
#   DAPQ_SLURM_SLURMD_PORT    slurmd port on 127.0.0.1 (default 26818)
#   DAPQ_SLURM_START_TIMEOUT  seconds to wait for the node to become idle (default 60)
#   DAPQ_SLURM_CGROUP_PLUGIN  cgroup.conf's CgroupPlugin (default: cgroup/v2 on a pure cgroup v2 host, else
#                             cgroup/v1)
set -euo pipefail

DIR=${DAPQ_SLURM_DIR:-/tmp/dapq-slurm}
CTLD_PORT=${DAPQ_SLURM_CTLD_PORT:-26817}
SLURMD_PORT=${DAPQ_SLURM_SLURMD_PORT:-26818}
START_TIMEOUT=${DAPQ_SLURM_START_TIMEOUT:-60}
CLUSTER=dapq
PARTITION=debug

case $DIR in /*) ;; *) DIR=$PWD/$DIR ;; esac
DIR=${DIR%/}
case $DIR in *[[:space:]]*|*'#'*) echo "local-slurm: error: DAPQ_SLURM_DIR must not contain spaces or '#' (slurm.conf paths): '$DIR'" >&2; exit 1 ;; esac
ETC=$DIR/etc
CONF=$ETC/slurm.conf
MUNGE_DIR=$DIR/munge
MUNGE_SOCKET=$MUNGE_DIR/munge.socket
MUNGE_PID=$MUNGE_DIR/munged.pid
RUN=$DIR/run
LOG=$DIR/log
CTLD_PID=$RUN/slurmctld.pid
SLURMD_PID=$RUN/slurmd.pid

PATH=$PATH:/usr/sbin:/sbin   # munged, slurmctld and slurmd live in /usr/sbin
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

say() { echo "local-slurm: $*" >&2; }
die() { echo "local-slurm: error: $*" >&2; exit 1; }

# pid_alive PIDFILE COMM: prints the pid when the file names a live process whose command is COMM.
pid_alive() {
  local pid comm
  [ -r "$1" ] || return 1
  pid=$(tr -dc '0-9' <"$1")
  [ -n "$pid" ] || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  [ "$comm" = "$2" ] || return 1
  is_live "$pid" || return 1
  echo "$pid"
}

# is_live PID: the process exists and is not a zombie (a dead daemon stays a zombie until init reaps it).
is_live() {
  local st
  st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# The processes that belong to this cluster: munged/slurmctld/slurmd/slurmstepd/slurmscriptd processes whose
# command line names $DIR (our daemons are started with paths under it) or that hold a file under $DIR open
# (slurmstepd keeps the slurmd log open). Never matches by program name alone, so another Slurm or munge on
# the machine is left alone.
our_pids() {
  local p comm cmd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
    case $comm in munged|slurmctld|slurmd|slurmstepd|slurmscriptd) ;; *) continue ;; esac
    is_live "$p" || continue
    cmd=$(tr "\\0" " " 2>/dev/null <"/proc/$p/cmdline") || continue
    case $cmd in *"$DIR/"*) echo "$p"; continue ;; esac
    if $SUDO ls -l "/proc/$p/fd" 2>/dev/null | grep -q -- "-> $DIR/"; then echo "$p"; fi
  done
}

export_line() { echo "export SLURM_CONF=$CONF"; }

running() {
  pid_alive "$MUNGE_PID" munged >/dev/null && pid_alive "$CTLD_PID" slurmctld >/dev/null \
    && pid_alive "$SLURMD_PID" slurmd >/dev/null
}

answers() { SLURM_CONF=$CONF timeout 10 sinfo -h -o %T >/dev/null 2>&1; }

ensure_packages() {
  local need=() p t0
  for p in slurm-wlm munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "${need[*]} not installed and there is no apt-get to install them"
  t0=$(date +%s)
  say "installing Debian packages: ${need[*]}"
  # Package maintainer scripts would start the system munged/slurmd through invoke-rc.d; a policy-rc.d that
  # answers 101 stops that (only added when the machine has none, and removed again afterwards).
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod 755 "$policy" && added_policy=1
  fi
  local ok=1
  # A failing update (say, one unreachable third-party source) is not fatal by itself: the install decides.
  $SUDO apt-get update -qq >"$DIR/apt.log" 2>&1 || say "apt-get update failed; trying the install anyway"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" \
    >>"$DIR/apt.log" 2>&1 || ok=0
  [ $added_policy -eq 1 ] && $SUDO rm -f "$policy"
  [ $ok -eq 1 ] || die "could not install ${need[*]} with apt-get (see $DIR/apt.log)"
  $SUDO rm -f "$DIR/apt.log"
  say "installed ${need[*]} in $(( $(date +%s) - t0 )) s"
}

# node_line: the NodeName line from `slurmd -C` (the hardware slurmd itself will report), with the memory
# lowered by 2% so a later drop in free memory can never make the node "invalid" (configured > actual).
node_line() {
  local node=$1 hw cpus boards sockets cores threads mem kb
  hw=$(slurmd -C 2>/dev/null | head -1 || true)
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
  boards=$(sed -n 's/.* Boards=\([0-9]*\).*/\1/p' <<<"$hw")
  sockets=$(sed -n 's/.* SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$hw")
  cores=$(sed -n 's/.* CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$hw")
  threads=$(sed -n 's/.* ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$hw")
  mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
  if [ -z "$mem" ]; then
    kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
    mem=$(( kb / 1024 ))
  fi
  mem=$(( mem * 98 / 100 ))
  if [ -n "$cpus" ] && [ -n "$boards" ] && [ -n "$sockets" ] && [ -n "$cores" ] && [ -n "$threads" ]; then
    echo "NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$cpus Boards=$boards SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem State=UNKNOWN"
  else
    echo "NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$(nproc --all) RealMemory=$mem State=UNKNOWN"
  fi
}

write_config() {
  local node=$1
  cat >"$CONF" <<EOF
# Written by scripts/cluster/local-slurm.sh; a throwaway one-node cluster. See scripts/cluster/README.md.
ClusterName=$CLUSTER
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MaxArraySize=100001
MaxJobCount=200000
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
$(node_line "$node")
PartitionName=$PARTITION Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  # Slurm 22.05 has no "disabled" cgroup plugin: slurmd loads one even with proctrack/linuxproc and
  # task/none (which never create cgroups). cgroup/v2 on a pure cgroup v2 host, with IgnoreSystemd=yes as
  # there is no systemd to ask for a scope; cgroup/v2 aborts slurmd on a hybrid v1/v2 host ("Hybrid mode is
  # not supported"), so there (and on pure v1) cgroup/v1, which only checks its mount points.
  local plugin=${DAPQ_SLURM_CGROUP_PLUGIN:-}
  if [ -z "$plugin" ]; then
    if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then plugin=cgroup/v2; else plugin=cgroup/v1; fi
  fi
  {
    echo "# Written by scripts/cluster/local-slurm.sh; /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup 2>/dev/null || echo missing)."
    echo "CgroupPlugin=$plugin"
    [ "$plugin" = cgroup/v2 ] && echo "IgnoreSystemd=yes"
    true
  } >"$ETC/cgroup.conf"
}

tail_logs() {
  local f
  for f in "$MUNGE_DIR/munged.log" "$LOG/slurmctld.log" "$LOG/slurmd.log" "$LOG/daemons.out"; do
    [ -s "$f" ] || continue
    echo "---- tail of $f" >&2
    $SUDO tail -n 15 "$f" >&2 || true
  done
}

# start_fail MESSAGE: one error line (with the daemons' first fatal log line, if any), the log tails, and
# whatever had started is stopped again.
start_fail() {
  local fatal
  fatal=$($SUDO grep -h -m1 -o 'fatal: .*' "$LOG/slurmctld.log" "$LOG/slurmd.log" 2>/dev/null | head -1 || true)
  do_stop >/dev/null 2>&1 || true
  echo "local-slurm: error: $*${fatal:+ ($fatal)}" >&2
  tail_logs
  exit 1
}

# port_in_use PORT: something accepts connections on 127.0.0.1:PORT.
port_in_use() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

do_start() {
  if running && answers; then
    say "already running (state in $DIR)"
    export_line
    return 0
  fi
  # A half-started or dead cluster from before: clear it away first.
  if [ -n "$(our_pids)" ]; then do_stop; fi

  local t0 node p
  t0=$(date +%s.%N)
  $SUDO mkdir -p "$DIR"
  ensure_packages
  getent passwd munge >/dev/null || die "the munge user does not exist (is the munge package installed?)"
  port_in_use "$CTLD_PORT" && die "port $CTLD_PORT on 127.0.0.1 is taken (another slurmctld?); pick a free one with DAPQ_SLURM_CTLD_PORT"
  port_in_use "$SLURMD_PORT" && die "port $SLURMD_PORT on 127.0.0.1 is taken (another slurmd?); pick a free one with DAPQ_SLURM_SLURMD_PORT"
  for p in slurmctld slurmd sinfo sbatch munged; do
    command -v "$p" >/dev/null 2>&1 || die "$p not found on PATH after installing slurm-wlm and munge"
  done

  # Fresh folders each time: no job state, node state or logs carry over from an earlier cluster.
  $SUDO rm -rf "$ETC" "$MUNGE_DIR" "$RUN" "$LOG" "$DIR/state" "$DIR/spool"
  $SUDO mkdir -p "$ETC" "$MUNGE_DIR" "$RUN" "$LOG" "$DIR/state" "$DIR/spool"
  $SUDO chmod 755 "$DIR" "$ETC" "$RUN" "$LOG"
  $SUDO chmod 700 "$DIR/state" "$DIR/spool"
  [ -n "$SUDO" ] && $SUDO chown "$(id -u):$(id -g)" "$ETC"

  # munged as the munge user, with its own key, socket, pid, log and seed in $MUNGE_DIR. The folder must
  # belong to munge and not be writable by others, or munged refuses it; 0755 so any user can reach the socket.
  if command -v mungekey >/dev/null 2>&1; then
    $SUDO mungekey --create --keyfile="$MUNGE_DIR/munge.key" --force 2>/dev/null \
      || die "mungekey could not create $MUNGE_DIR/munge.key"
  else
    $SUDO dd if=/dev/urandom of="$MUNGE_DIR/munge.key" bs=1024 count=1 status=none
  fi
  $SUDO chown -R munge:munge "$MUNGE_DIR"
  $SUDO chmod 755 "$MUNGE_DIR"
  $SUDO chmod 400 "$MUNGE_DIR/munge.key"
  local as_munge=(runuser -u munge --)
  [ -n "$SUDO" ] && as_munge=(sudo -u munge)
  "${as_munge[@]}" munged --key-file="$MUNGE_DIR/munge.key" --socket="$MUNGE_SOCKET" \
    --pid-file="$MUNGE_PID" --log-file="$MUNGE_DIR/munged.log" --seed-file="$MUNGE_DIR/munged.seed" \
    </dev/null >>"$LOG/daemons.out" 2>&1 || start_fail "munged did not start"
  for _ in $(seq 50); do
    [ -S "$MUNGE_SOCKET" ] && pid_alive "$MUNGE_PID" munged >/dev/null && break
    sleep 0.1
  done
  munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1 \
    || start_fail "munged does not answer on $MUNGE_SOCKET"

  node=$(hostname -s 2>/dev/null || hostname)
  [ -n "$node" ] || die "cannot tell this machine's host name"
  write_config "$node"

  # Both daemons detach themselves and write their pid files; their output goes to a file, never to our
  # stdout, so `$(local-slurm.sh start)` returns.
  $SUDO env SLURM_CONF="$CONF" slurmctld -f "$CONF" </dev/null >>"$LOG/daemons.out" 2>&1 \
    || start_fail "slurmctld did not start"
  $SUDO env SLURM_CONF="$CONF" slurmd -f "$CONF" -N "$node" </dev/null >>"$LOG/daemons.out" 2>&1 \
    || start_fail "slurmd did not start"

  local launched deadline state
  launched=$(date +%s)
  deadline=$(( launched + START_TIMEOUT ))
  while :; do
    # The pid files appear once the daemons have detached; after 3 s a missing one means the daemon died.
    if [ "$(date +%s)" -ge $(( launched + 3 )) ]; then
      pid_alive "$CTLD_PID" slurmctld >/dev/null || start_fail "slurmctld exited during start-up"
      pid_alive "$SLURMD_PID" slurmd >/dev/null || start_fail "slurmd exited during start-up"
    fi
    state=$(SLURM_CONF=$CONF timeout 5 sinfo -h -n "$node" -o %T 2>/dev/null | head -1 || true)
    case $state in idle|mixed|allocated) break ;; esac
    [ "$(date +%s)" -lt "$deadline" ] \
      || start_fail "node $node not idle after ${START_TIMEOUT}s (sinfo state: '${state:-no answer}')"
    sleep 0.2
  done
  say "cluster '$CLUSTER' up: node $node idle in partition $PARTITION, slurmctld 127.0.0.1:$CTLD_PORT ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s)"
  export_line
}

# kill_wait SIGNAL SECONDS PID...: signals the processes and waits until they are gone; returns 1 if some live.
kill_wait() {
  local sig=$1 secs=$2; shift 2
  [ $# -gt 0 ] || return 0
  $SUDO kill "-$sig" "$@" 2>/dev/null || true
  local p alive
  for _ in $(seq $(( secs * 10 ))); do
    alive=0
    for p in "$@"; do is_live "$p" && alive=1; done
    [ $alive -eq 0 ] && return 0
    sleep 0.1
  done
  return 1
}

do_stop() {
  local pids p
  if [ ! -d "$DIR" ]; then say "not running"; return 0; fi
  # Cancel the jobs first, so slurmstepd ends them (stopping slurmd alone leaves running steps behind).
  if pid_alive "$CTLD_PID" slurmctld >/dev/null && pid_alive "$MUNGE_PID" munged >/dev/null; then
    local jobs
    jobs=$(SLURM_CONF=$CONF timeout 10 squeue -h -o %i 2>/dev/null | sort -u | tr '\n' ' ' || true)
    if [ -n "${jobs// /}" ]; then
      say "cancelling jobs: $jobs"
      # shellcheck disable=SC2086
      SLURM_CONF=$CONF timeout 10 scancel $jobs 2>/dev/null || true
      for _ in $(seq 50); do
        [ -z "$(SLURM_CONF=$CONF timeout 5 squeue -h -t R,CG -o %i 2>/dev/null || true)" ] && break
        sleep 0.2
      done
    fi
  fi
  local slurm_pids=()
  p=$(pid_alive "$SLURMD_PID" slurmd) && slurm_pids+=("$p")
  p=$(pid_alive "$CTLD_PID" slurmctld) && slurm_pids+=("$p")
  kill_wait TERM 15 "${slurm_pids[@]}" || kill_wait KILL 5 "${slurm_pids[@]}" || true
  # Anything left that belongs to us (leftover slurmstepd, a daemon whose pid file is gone), munged last.
  pids=$(our_pids | while read -r p; do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = munged ] || echo "$p"; done)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill_wait TERM 5 $pids || kill_wait KILL 5 $pids || true
  pids=$(our_pids)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill_wait TERM 5 $pids || kill_wait KILL 5 $pids || true
  pids=$(our_pids)
  [ -z "$pids" ] || die "processes still running after stop: $pids"
  $SUDO rm -f "$CTLD_PID" "$SLURMD_PID" "$MUNGE_PID" "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
  say "stopped"
}

do_status() {
  if ! running; then
    echo "local-slurm: not running (state folder $DIR)" >&2
    return 3
  fi
  answers || { echo "local-slurm: daemons are up but slurmctld does not answer" >&2; return 1; }
  export SLURM_CONF=$CONF
  sinfo
  squeue
}

case ${1:-} in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  env)
    running || die "the cluster is not running (start it with $0 start)"
    export_line ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
