#!/usr/bin/env bash
# Start a real single-node SLURM cluster on this machine (idempotent).
#
#   sudo scripts/slurm_up.sh          # install if needed, configure, start, wait until idle
#   scripts/slurm_down.sh [--purge]   # stop it again (--purge also deletes its state)
#
# Daemons: MariaDB (own datadir, unix socket only) -> munged -> slurmdbd -> slurmctld ->
# slurmd. Every state, spool, pid, log and database file lives under one base directory,
# $HPFREE_SLURM_BASE (default /tmp/hpfree-slurm); only slurm.conf and slurmdbd.conf go to
# /etc/slurm, where the SLURM commands look for them. Must run as root; needs no systemd.
# Running it again while the cluster is up only reports that it is up.
set -euo pipefail

BASE="${HPFREE_SLURM_BASE:-/tmp/hpfree-slurm}"
CONF_DIR=/etc/slurm
CLUSTER=hpfree
PARTITION=debug
DB_NAME=slurm_acct_db
DB_USER=slurm
DB_PASS=hpfree-slurmdbd
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)

RUN="$BASE/run"
LOG="$BASE/log"
DB_DIR="$BASE/mysql"
DB_SOCK="$DB_DIR/mysqld.sock"
MUNGE_DIR="$BASE/munge"

log() { printf '[slurm_up] %s\n' "$*"; }
exec 3>&2  # the real stderr, for die() called where stderr is silenced
die() { printf '[slurm_up] ERROR: %s\n' "$*" >&3; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (the daemons are started as root/munge/mysql)"

# alive PIDFILE: the process named in PIDFILE exists.
alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.25 s until it succeeds.
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${secs}s waiting for $what (logs: $LOG)"
    sleep 0.25
  done
}

node_name() { hostname -s; }

node_state() { sinfo -h -N -n "$(node_name)" -o '%T' 2>/dev/null | head -n1; }

node_ready() { [[ $(node_state) =~ ^(idle|mixed|allocated)$ ]]; }

cluster_up() {
  alive "$RUN/mariadbd.pid" && alive "$RUN/munged.pid" && alive "$RUN/slurmdbd.pid" &&
    alive "$RUN/slurmctld.pid" && alive "$RUN/slurmd.pid" &&
    scontrol ping 2>/dev/null | grep -q UP && node_ready
}

if [[ -f "$CONF_DIR/slurm.conf" ]] && command -v sinfo >/dev/null && cluster_up; then
  log "SLURM cluster '$CLUSTER' is already up (base $BASE): $(sinfo -h -N -o '%N %P %T' | head -n1)"
  exit 0
fi

t0=$SECONDS

# ---------------------------------------------------------------- packages
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
fi

# ---------------------------------------------------------------- directories
mkdir -p "$BASE" "$RUN" "$LOG" "$BASE/state" "$BASE/spool" "$DB_DIR" "$MUNGE_DIR" "$CONF_DIR"
chmod 755 "$BASE" "$RUN" "$LOG"
chown mysql:mysql "$DB_DIR"
chown munge:munge "$MUNGE_DIR"
chmod 700 "$MUNGE_DIR"

# ---------------------------------------------------------------- configuration
node_line=$(slurmd -C | head -n1)
[[ $node_line =~ RealMemory=([0-9]+) ]] || die "cannot parse 'slurmd -C': $node_line"
mem=${BASH_REMATCH[1]}
reserve=$((mem / 20 > 512 ? mem / 20 : 512))   # leave 5% (at least 512 MB) to the system
node_line=${node_line/RealMemory=$mem/RealMemory=$((mem - reserve))}
node_line=${node_line/NodeName=* CPUs=/NodeName=$(node_name) CPUs=}

cat >"$CONF_DIR/slurm.conf.new" <<EOF
# Written by hpfree scripts/slurm_up.sh; state under $BASE.
ClusterName=$CLUSTER
SlurmctldHost=$(node_name)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool/slurmd.%n
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldPort=6817
SlurmdPort=6818
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5,sched_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=2048
InactiveLimit=0
KillWait=10
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
Waittime=0
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
$node_line State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
mv "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf"

install -m 600 /dev/null "$CONF_DIR/slurmdbd.conf.new"
cat >"$CONF_DIR/slurmdbd.conf.new" <<EOF
# Written by hpfree scripts/slurm_up.sh; MariaDB socket $DB_SOCK.
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
PidFile=$RUN/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
EOF
mv "$CONF_DIR/slurmdbd.conf.new" "$CONF_DIR/slurmdbd.conf"

# ---------------------------------------------------------------- MariaDB
db_ready() {  # db_ready PID: MariaDB answers; fails the script if PID has died
  kill -0 "$1" 2>/dev/null || die "MariaDB exited at start, see $DB_DIR/mariadb.log"
  mariadb-admin --no-defaults --socket="$DB_SOCK" -uroot ping && test -s "$DB_DIR/mariadbd.pid"
}
sql() { mariadb --no-defaults --socket="$DB_SOCK" -uroot -e "$1"; }
if ! alive "$RUN/mariadbd.pid"; then
  if [[ ! -d "$DB_DIR/data/mysql" ]]; then
    log "initialising MariaDB datadir $DB_DIR/data"
    mariadb-install-db --no-defaults --user=mysql --datadir="$DB_DIR/data" \
      --auth-root-authentication-method=socket --skip-test-db >"$LOG/mariadb-install.log" 2>&1 ||
      die "mariadb-install-db failed, see $LOG/mariadb-install.log"
  fi
  log "starting MariaDB"
  rm -f "$DB_SOCK"
  # mariadbd runs as mysql: its pid and log files live in its own directory.
  setsid nohup mariadbd --no-defaults --user=mysql --datadir="$DB_DIR/data" \
    --socket="$DB_SOCK" --pid-file="$DB_DIR/mariadbd.pid" --log-error="$DB_DIR/mariadb.log" \
    --skip-networking --innodb-buffer-pool-size=1024M --innodb-lock-wait-timeout=900 \
    --innodb-use-native-aio=0 </dev/null >>"$LOG/mariadb.out" 2>&1 &
  db_pid=$!
  ln -sf "$DB_DIR/mariadbd.pid" "$RUN/mariadbd.pid"
  ln -sf "$DB_DIR/mariadb.log" "$LOG/mariadb.log"
  wait_for 60 "MariaDB" db_ready "$db_pid"
fi
sql "CREATE DATABASE IF NOT EXISTS $DB_NAME;
     CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
     GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost';"

# ---------------------------------------------------------------- munge
if ! alive "$RUN/munged.pid"; then
  log "starting munged"
  mkdir -p /run/munge
  chown munge:munge /run/munge
  chmod 755 /run/munge
  runuser -u munge -- /usr/sbin/munged --force --pid-file="$MUNGE_DIR/munged.pid" \
    --log-file="$MUNGE_DIR/munged.log" --seed-file="$MUNGE_DIR/munged.seed"
  wait_for 10 "munged pid file" test -s "$MUNGE_DIR/munged.pid"
  ln -sf "$MUNGE_DIR/munged.pid" "$RUN/munged.pid"
fi
wait_for 10 "munge credentials" bash -c 'munge -n | unmunge'

# ---------------------------------------------------------------- slurmdbd
# slurmdbd reaches MariaDB as "localhost", i.e. through the unix socket named here.
if ! alive "$RUN/slurmdbd.pid"; then
  log "starting slurmdbd"
  MYSQL_UNIX_PORT="$DB_SOCK" /usr/sbin/slurmdbd
  wait_for 30 "slurmdbd (sacctmgr)" sacctmgr -n -P show cluster
fi

# ---------------------------------------------------------------- slurmctld, slurmd
if ! alive "$RUN/slurmctld.pid"; then
  log "starting slurmctld"
  /usr/sbin/slurmctld
fi
wait_for 30 "slurmctld (scontrol ping)" bash -c 'scontrol ping | grep -q UP'
if ! alive "$RUN/slurmd.pid"; then
  log "starting slurmd"
  /usr/sbin/slurmd
fi

# ---------------------------------------------------------------- node idle
deadline=$((SECONDS + 60))
until node_ready; do
  state=$(node_state)
  if [[ $state =~ (down|drain|fail) ]]; then
    log "node $(node_name) is '$state': resuming it"
    scontrol update NodeName="$(node_name)" State=RESUME >/dev/null 2>&1 || true
  fi
  ((SECONDS < deadline)) || die "node $(node_name) not idle after 60s (state '$state'; logs: $LOG)"
  sleep 0.5
done
wait_for 30 "sacct (accounting via slurmdbd)" sacct -n -X -S now-1minute -o JobID

log "SLURM cluster '$CLUSTER' is up in $((SECONDS - t0))s (base $BASE): $(sinfo -h -N -o '%N %P %T' | head -n1)"
