#!/usr/bin/env bash
# Stop the single-node SLURM cluster started by scripts/slurm_up.sh.
#
#   scripts/slurm_down.sh           # cancel all jobs, stop the daemons (state is kept)
#   scripts/slurm_down.sh --purge   # ... and delete $HPFREE_SLURM_BASE (jobs, accounting DB)
#
# Daemons are stopped through the pid files slurm_up.sh configured, never by process name.
set -euo pipefail

BASE="${HPFREE_SLURM_BASE:-/tmp/hpfree-slurm}"
RUN="$BASE/run"
PURGE=0
for arg in "$@"; do
  case $arg in
    --purge) PURGE=1 ;;
    -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
  esac
done

log() { printf '[slurm_down] %s\n' "$*"; }

[[ $(id -u) -eq 0 ]] || { echo "[slurm_down] ERROR: run as root" >&2; exit 1; }

alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop NAME PIDFILE: SIGTERM the pid in PIDFILE, wait up to 20 s, then SIGKILL.
stop() {
  local name=$1 pidfile=$2 pid
  if ! alive "$pidfile"; then
    rm -f "$pidfile"
    return 0
  fi
  pid=$(cat "$pidfile")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 80); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop in 20s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

if alive "$RUN/slurmctld.pid" && command -v scancel >/dev/null; then
  if [[ -n $(squeue -h -o '%i' 2>/dev/null) ]]; then
    log "cancelling all jobs"
    scancel --quiet $(squeue -h -o '%i' 2>/dev/null) 2>/dev/null || true
    for _ in $(seq 40); do   # let slurmd kill the job steps and slurmctld record it
      [[ -z $(squeue -h -o '%i' 2>/dev/null) ]] && break
      sleep 0.25
    done
  fi
fi

stop slurmd "$RUN/slurmd.pid"
stop slurmctld "$RUN/slurmctld.pid"
stop slurmdbd "$RUN/slurmdbd.pid"
stop munged "$RUN/munged.pid"
stop MariaDB "$RUN/mariadbd.pid"

if ((PURGE)); then
  log "removing $BASE"
  rm -rf -- "$BASE"
fi
log "SLURM cluster stopped"
