#!/usr/bin/env bash
# Start local sshd servers that stand in for the workers of TPU VM pod slices, so that the TPU
# launcher (`launcher=tpu hydra.launcher.transport=ssh`) runs through a real ssh transport.
#
#   scripts/sshd_slices.sh up DIR PORT [PORT...]   # one sshd per port on 127.0.0.1 (idempotent)
#   scripts/sshd_slices.sh down DIR [PORT...]      # stop them (all in DIR when no port is named)
#   scripts/sshd_slices.sh status DIR              # list the ones running
#
# Everything lives in DIR: a throwaway host key, a client key pair (DIR/id_ed25519) whose
# public half is the only authorized key, one sshd_config / pid file / log per port, and a
# known_hosts file. The servers accept only that key, only for the current user, only on
# 127.0.0.1. `up` prints the ssh options a client needs, one per line. Installs
# openssh-server with apt-get when sshd is missing and we are root. Stops sshd by pid only.
set -euo pipefail

die() { printf '[sshd_slices] ERROR: %s\n' "$*" >&2; exit 1; }
log() { printf '[sshd_slices] %s\n' "$*" >&2; }

SSHD=${SSHD:-/usr/sbin/sshd}

alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

client_opts() {  # the options a client needs to reach these servers
  local dir=$1
  printf '%s\n' "IdentityFile=$dir/id_ed25519" "UserKnownHostsFile=$dir/known_hosts" \
    "StrictHostKeyChecking=no" "BatchMode=yes" "IdentitiesOnly=yes" "LogLevel=ERROR"
}

ssh_ok() {  # ssh_ok DIR PORT: a real login on PORT works
  local dir=$1 port=$2 args=()
  while read -r o; do args+=(-o "$o"); done < <(client_opts "$dir")
  ssh "${args[@]}" -o ConnectTimeout=5 -p "$port" "$(id -un)@127.0.0.1" true >/dev/null 2>&1
}

ensure_sshd() {
  [[ -x $SSHD ]] && return
  [[ $(id -u) -eq 0 ]] || die "$SSHD is missing; install openssh-server (apt-get install -y openssh-server)"
  log "installing openssh-server"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server >/dev/null
  } || die "apt-get install openssh-server failed"
  [[ -x $SSHD ]] || die "openssh-server installed but $SSHD is missing"
}

up() {
  local dir=$1; shift
  (($# > 0)) || die "usage: $0 up DIR PORT [PORT...]"
  ensure_sshd
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  chmod 700 "$dir"
  [[ -f $dir/ssh_host_ed25519_key ]] ||
    ssh-keygen -q -t ed25519 -N '' -C hpfree-fake-slice-host -f "$dir/ssh_host_ed25519_key"
  [[ -f $dir/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C hpfree-launcher -f "$dir/id_ed25519"
  cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
  chmod 600 "$dir/authorized_keys"
  touch "$dir/known_hosts"
  # Privilege separation needs this directory when sshd runs as root (no systemd to make it).
  if [[ $(id -u) -eq 0 ]]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi
  local port
  for port in "$@"; do
    [[ $port =~ ^[0-9]+$ ]] || die "port '$port' is not a number"
    if alive "$dir/sshd_$port.pid"; then log "sshd on 127.0.0.1:$port already up"; continue; fi
    cat >"$dir/sshd_$port.conf" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd_$port.pid
AuthorizedKeysFile $dir/authorized_keys
AllowUsers $(id -un)
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PrintMotd no
MaxStartups 64
MaxSessions 64
LogLevel ERROR
EOF
    "$SSHD" -f "$dir/sshd_$port.conf" -E "$dir/sshd_$port.log" ||
      die "sshd on port $port did not start (log: $dir/sshd_$port.log)"
    local deadline=$((SECONDS + 20))
    until ssh_ok "$dir" "$port"; do
      ((SECONDS < deadline)) || die "sshd on 127.0.0.1:$port does not accept logins (log: $dir/sshd_$port.log)"
      sleep 0.2
    done
    log "sshd on 127.0.0.1:$port up (pid $(cat "$dir/sshd_$port.pid"))"
  done
  client_opts "$dir"
}

down() {
  local dir=$1; shift
  local pidfiles=()
  if (($# > 0)); then
    local p; for p in "$@"; do pidfiles+=("$dir/sshd_$p.pid"); done
  else
    shopt -s nullglob; pidfiles=("$dir"/sshd_*.pid); shopt -u nullglob
  fi
  local f pid
  for f in "${pidfiles[@]}"; do
    [[ -s $f ]] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      local deadline=$((SECONDS + 10))
      while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
      log "stopped sshd pid $pid ($(basename "$f" .pid))"
    fi
    rm -f "$f"
  done
}

status() {
  local dir=$1 f
  shopt -s nullglob
  for f in "$dir"/sshd_*.pid; do
    alive "$f" && echo "$(basename "$f" .pid | sed 's/^sshd_//') $(cat "$f")"
  done
  return 0
}

cmd=${1:-}; shift || true
[[ $# -ge 1 ]] || die "usage: $0 up|down|status DIR [PORT...]"
case $cmd in
  up) up "$@" ;;
  down) down "$@" ;;
  status) status "$@" ;;
  *) die "unknown command '$cmd'; use up, down or status" ;;
esac
