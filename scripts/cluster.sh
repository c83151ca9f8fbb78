#!/usr/bin/env bash
# A local fleet (`make cluster`): a Postgres primary, a hot-standby replica
# fed by streaming replication, three noxportal instances and HAProxy.
#
#   cluster.sh up                 start whatever is not running
#   cluster.sh down               stop everything (data is kept)
#   cluster.sh destroy            stop everything and delete the data
#   cluster.sh status             what runs where
#   cluster.sh kill N             kill -9 instance N (1-3)
#   cluster.sh stop N|start N     stop (SIGTERM, drained) or start instance N
#   cluster.sh stop-replica|start-replica
#
# Everything listens on 127.0.0.1. Ports and folders (environment):
#   NOX_CLUSTER_DIR           data, logs and pid files (default .cluster/)
#   NOX_CLUSTER_PORT          HAProxy (default 8080; server.public_url points here)
#   NOX_CLUSTER_PG_PORT       primary (default 15440)
#   NOX_CLUSTER_REPLICA_PORT  replica (default 15441)
#   NOX_CLUSTER_APP_PORTS     the instances (default "18081 18082 18083")
#   NOX_CLUSTER_METRICS_PORTS their metrics listeners (default "19081 19082 19083")
#   NOX_CLUSTER_INSTANCES     how many instances `up` starts (default 3)
#   NOX_CLUSTER_BIN           the noxportal binary (default bin/noxportal)
# Other NOX_* variables reach the instances unchanged.
#
# Postgres refuses to run as root, so as root its servers run as the
# 'postgres' user (like scripts/pg.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" # the instances read config.yaml from here
dir=${NOX_CLUSTER_DIR:-$root/.cluster}
if [ -z "${NOX_CLUSTER_DIR:-}" ] && [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
  dir=/var/tmp/noxportal-cluster-$(printf '%s' "$root" | sha256sum | cut -c1-12)
fi
lb_port=${NOX_CLUSTER_PORT:-8080}
pg_port=${NOX_CLUSTER_PG_PORT:-15440}
replica_port=${NOX_CLUSTER_REPLICA_PORT:-15441}
read -r -a app_ports <<<"${NOX_CLUSTER_APP_PORTS:-18081 18082 18083}"
read -r -a metrics_ports <<<"${NOX_CLUSTER_METRICS_PORTS:-19081 19082 19083}"
instances=${NOX_CLUSTER_INSTANCES:-3}
bin=${NOX_CLUSTER_BIN:-$root/bin/noxportal}
haproxy=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}
bindir=${NOX_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
[ -x "$bindir/pg_ctl" ] || { echo "cluster.sh: no Postgres binaries found (install postgresql)" >&2; exit 1; }
dbname=noxportal
primary_url="postgres://postgres@127.0.0.1:$pg_port/$dbname?sslmode=disable"
replica_url="postgres://postgres@127.0.0.1:$replica_port/$dbname?sslmode=disable"
slot=noxportal_replica

as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
say() { printf 'cluster: %s\n' "$*"; }

pg_start() { # name
  as_pg "$bindir/pg_ctl" -D "$dir/$1/data" status >/dev/null 2>&1 && return 0
  as_pg "$bindir/pg_ctl" -D "$dir/$1/data" -l "$dir/$1/server.log" -w -t 60 start >/dev/null \
    || { tail -n 30 "$dir/$1/server.log" >&2; exit 1; }
}

pg_stop() { # name
  [ -s "$dir/$1/data/PG_VERSION" ] || return 0
  as_pg "$bindir/pg_ctl" -D "$dir/$1/data" -m fast -w stop >/dev/null 2>&1 || true
}

pg_folder() { # name
  mkdir -p "$dir/$1"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/$1"; fi
  chmod 700 "$dir/$1"
}

primary_up() {
  pg_folder primary
  if [ ! -s "$dir/primary/data/PG_VERSION" ]; then
    as_pg "$bindir/initdb" -D "$dir/primary/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$dir/primary/initdb.log" 2>&1 || { cat "$dir/primary/initdb.log" >&2; exit 1; }
    # initdb's trust pg_hba.conf already admits replication from 127.0.0.1.
    cat >>"$dir/primary/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$dir/primary'
max_connections = 300
shared_buffers = 128MB
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
hot_standby = on
CONF
  fi
  pg_start primary
  psql "postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable" -qtAc \
    "SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1 \
    || psql "postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable" -qc "CREATE DATABASE $dbname"
}

replica_up() {
  pg_folder replica
  if [ ! -s "$dir/replica/data/PG_VERSION" ]; then
    # A physical slot keeps the WAL the replica has not received yet, so a
    # stopped replica catches up when it starts again.
    psql "postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable" -qtAc \
      "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$slot'" | grep -q 1 \
      || psql "postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable" -qAtc \
        "SELECT 1 FROM pg_create_physical_replication_slot('$slot')" >/dev/null
    as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$pg_port" -U postgres -D "$dir/replica/data" \
      -X stream -R -S "$slot" --checkpoint=fast >"$dir/replica/basebackup.log" 2>&1 \
      || { cat "$dir/replica/basebackup.log" >&2; exit 1; }
    # The copied postgresql.conf is the primary's; later lines win.
    cat >>"$dir/replica/data/postgresql.conf" <<CONF
port = $replica_port
unix_socket_directories = '$dir/replica'
# Queries on the replica hold back the primary's vacuum instead of being
# cancelled by it.
hot_standby_feedback = on
CONF
  fi
  pg_start replica
}

app_pid() { # n
  local f="$dir/app$1.pid"
  [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

app_start() { # n
  local n=$1 port=${app_ports[$(($1 - 1))]} mport=${metrics_ports[$(($1 - 1))]:-}
  app_pid "$n" >/dev/null && return 0
  NOX_SERVER_ADDR=127.0.0.1:$port \
  NOX_SERVER_PUBLIC_URL=http://127.0.0.1:$lb_port \
  NOX_SERVER_METRICS_ADDR=${mport:+127.0.0.1:$mport} \
  NOX_SERVER_TRUST_PROXY=true \
  NOX_DATABASE_URL=$primary_url \
  NOX_DATABASE_REPLICA_URL=$replica_url \
  NOX_DEV_SEED=$([ "$n" = 1 ] && echo "${NOX_DEV_SEED:-true}" || echo false) \
    setsid "$bin" serve >>"$dir/app$n.log" 2>&1 </dev/null &
  echo $! >"$dir/app$n.pid"
  local i
  for i in $(seq 1 120); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then
      return 0
    fi
    kill -0 "$(cat "$dir/app$n.pid")" 2>/dev/null || break
    sleep 0.5
  done
  tail -n 30 "$dir/app$n.log" >&2
  echo "cluster.sh: instance $n did not become ready" >&2
  exit 1
}

app_stop() { # n [signal]
  local pid
  pid=$(app_pid "$1") || return 0
  kill "-${2:-TERM}" "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  rm -f "$dir/app$1.pid"
}

lb_pid() {
  [ -s "$dir/haproxy.pid" ] && kill -0 "$(cat "$dir/haproxy.pid")" 2>/dev/null && cat "$dir/haproxy.pid"
}

lb_up() {
  lb_pid >/dev/null && return 0
  [ -x "$haproxy" ] || { echo "cluster.sh: haproxy not found (apt-get install haproxy)" >&2; exit 1; }
  export NOX_LB_BIND=127.0.0.1:$lb_port
  export NOX_APP1_ADDR=127.0.0.1:${app_ports[0]} NOX_APP2_ADDR=127.0.0.1:${app_ports[1]} NOX_APP3_ADDR=127.0.0.1:${app_ports[2]}
  "$haproxy" -q -c -f "$root/cluster/haproxy.cfg" >/dev/null
  "$haproxy" -D -f "$root/cluster/haproxy.cfg" -p "$dir/haproxy.pid"
}

lb_down() {
  local pid
  pid=$(lb_pid) || return 0
  kill "$pid" 2>/dev/null || true
  rm -f "$dir/haproxy.pid"
}

up() {
  [ -x "$bin" ] || { echo "cluster.sh: $bin missing (make build)" >&2; exit 1; }
  mkdir -p "$dir"
  primary_up
  say "primary on 127.0.0.1:$pg_port"
  replica_up
  say "replica on 127.0.0.1:$replica_port (streaming from the primary)"
  # The first instance migrates and (dev.seed) seeds before it is ready;
  # the others start after it on a ready database.
  local n
  for n in $(seq 1 "$instances"); do
    app_start "$n"
    say "instance $n on 127.0.0.1:${app_ports[$((n - 1))]} (log $dir/app$n.log)"
  done
  lb_up
  say "HAProxy on http://127.0.0.1:$lb_port (round-robin, health check /readyz)"
}

down() {
  local n
  lb_down
  for n in 1 2 3; do app_stop "$n" & done
  wait
  pg_stop replica
  pg_stop primary
}

status() {
  local n
  echo "data:     $dir"
  if pid=$(lb_pid); then echo "haproxy:  http://127.0.0.1:$lb_port (pid $pid)"; else echo "haproxy:  stopped"; fi
  for n in 1 2 3; do
    if pid=$(app_pid "$n"); then echo "app$n:     127.0.0.1:${app_ports[$((n - 1))]} (pid $pid)"; else echo "app$n:     stopped"; fi
  done
  "$bindir/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && echo "primary:  127.0.0.1:$pg_port" || echo "primary:  stopped"
  "$bindir/pg_isready" -q -h 127.0.0.1 -p "$replica_port" && echo "replica:  127.0.0.1:$replica_port" || echo "replica:  stopped"
}

instance() { # arg
  case "${1:-}" in 1 | 2 | 3) echo "$1" ;; *) echo "cluster.sh: instance must be 1, 2 or 3" >&2; exit 2 ;; esac
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  destroy) down; rm -rf "$dir" ;;
  status) status ;;
  kill) app_stop "$(instance "${2:-}")" KILL ;;
  stop) app_stop "$(instance "${2:-}")" ;;
  start) app_start "$(instance "${2:-}")" ;;
  stop-replica) pg_stop replica ;;
  start-replica) pg_start replica ;;
  *) echo "usage: cluster.sh up|down|destroy|status|kill N|stop N|start N|stop-replica|start-replica" >&2; exit 2 ;;
esac
