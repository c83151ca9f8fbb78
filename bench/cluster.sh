#!/usr/bin/env bash
# make bench-cluster: the fleet of `make cluster` under load, through HAProxy,
# as ratios to ceilings measured in the same run on the fleet's own primary
# (see bench/README.md for the single-instance `make bench`).
#
#   POST /users/{id}/link and the brand page with 1 and with 3 instances;
#   the console search and the reports read from the replica and from the
#   primary (replica stopped).
#
# Environment: BENCH_DURATION (default 10s), BENCH_CONNS (default 32), and
# the cluster's ports (defaults below stay clear of `make cluster`'s).
# Writes bench/cluster-results.md. Everything runs on loopback and is
# deleted at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dur=${BENCH_DURATION:-10s}
conns=${BENCH_CONNS:-32}
secs=${dur%s}
export NOX_CLUSTER_DIR=${NOX_CLUSTER_DIR:-$root/.cluster-bench}
export NOX_CLUSTER_PORT=${NOX_CLUSTER_PORT:-18280}
export NOX_CLUSTER_PG_PORT=${NOX_CLUSTER_PG_PORT:-15450}
export NOX_CLUSTER_REPLICA_PORT=${NOX_CLUSTER_REPLICA_PORT:-15451}
export NOX_CLUSTER_APP_PORTS=${NOX_CLUSTER_APP_PORTS:-18281 18282 18283}
export NOX_CLUSTER_METRICS_PORTS=${NOX_CLUSTER_METRICS_PORTS:-19281 19282 19283}
export NOX_SECURITY_API_RATE_LIMIT=1000000000 NOX_SECURITY_PAGE_RATE_LIMIT=1000000000
export NOX_LOG_LEVEL=warn NOX_LOG_FORMAT=json
lb=http://127.0.0.1:$NOX_CLUSTER_PORT
dburl="postgres://postgres@127.0.0.1:$NOX_CLUSTER_PG_PORT/noxportal?sslmode=disable"
key=nox_sk_demo_0000000000000000000000000000000000
work=$root/tmp/bench-cluster
rm -rf "$work" && mkdir -p "$work"
say() { printf '\n== %s\n' "$*"; }

say "Build"
go build -trimpath -o bin/noxportal .
go build -trimpath -o bin/bench-load ./bench/load
trap './scripts/cluster.sh destroy >/dev/null 2>&1 || true' EXIT
./scripts/cluster.sh destroy >/dev/null 2>&1 || true
say "Fleet (HAProxy on $lb)"
./scripts/cluster.sh up
for _ in $(seq 360); do
  [ "$(psql "$dburl" -qAtc "SELECT EXISTS (SELECT 1 FROM link_sessions WHERE id = 'ls_seed_1')")" = t ] && break
  sleep 0.5
done

# Ceilings on the fleet's primary: the writes a link creation must make
# durable (trigger-free copies of the tables), and a read by token hash.
ntokens=20000
psql "$dburl" -q -v ON_ERROR_STOP=1 -v ntokens=$ntokens -f bench/pgbench/setup.sql
pgb() { # id script extra-args...
  local id=$1 script=$2; shift 2
  pgbench -n -M prepared -c "$conns" -j 2 -T "$secs" "$@" -f "$root/$script" "$dburl" >"$work/pgbench_$id.out" 2>&1
  grep -oP "^tps = \\K[0-9.]+" "$work/pgbench_$id.out"
}
app() { ./bin/bench-load -url "$lb" -key "$key" -c "$conns" -d "$dur" "$@"; }
rows=()
row() { # name result.json ceiling-tps-or-empty
  local ps p99 errs ratio=""
  ps=$(jq -r .per_sec "$2"); p99=$(jq -r .p99_ms "$2"); errs=$(jq -r .errors "$2")
  [ -n "${3:-}" ] && ratio=$(awk -v a="$ps" -v b="$3" 'BEGIN{printf "%.2f×", a/b}')
  rows+=("| $1 | $(printf '%.0f' "$ps") | $(printf '%.1f' "$p99") | $errs | $ratio |")
}

link_and_brand() { # label
  say "$1: ceilings"
  local ins sel
  ins=$(pgb "insert_free_$1" bench/pgbench/insert_free.sql)
  psql "$dburl" -qc "TRUNCATE bench_free_events, bench_free_sessions"
  sel=$(pgb "select_$1" bench/pgbench/select.sql -D ntokens=$ntokens)
  rows+=("| pgbench session + event insert, trigger-free copies (ceiling, $1) | $(printf '%.0f' "$ins") | | | |")
  rows+=("| pgbench SELECT by token hash (ceiling, $1) | $(printf '%.0f' "$sel") | | | |")
  say "$1: POST /users/{id}/link through HAProxy"
  app -mode link -out "$work/link_$1.json"
  row "POST /users/{id}/link, $1" "$work/link_$1.json" "$ins"
  say "$1: brand page through HAProxy"
  app -mode brand -pool 20 -out "$work/brand_$1.json"
  row "GET /connect brand page, $1" "$work/brand_$1.json" "$sel"
}

./scripts/cluster.sh stop 2
./scripts/cluster.sh stop 3
sleep 3 # HAProxy marks them down
link_and_brand "1 instance"
./scripts/cluster.sh start 2
./scripts/cluster.sh start 3
sleep 3
link_and_brand "3 instances"

search='/console?q=demo,/console?q=spread,/console?q=customer_4,/console?q=bench-1'
reports='/reports?range=90,/reports?range=90&brand=sandbox-heatpump,/reports/export/brands.csv?range=90,/reports/export/trend.csv?range=90'
pages() { # label
  say "Console search and reports, reads on the $1"
  app -mode page -c 4 -login agent@demo.nox:demo-password-1 -paths "$search" -out "$work/search_$1.json"
  row "Console search (4 agents), reads on the $1" "$work/search_$1.json"
  app -mode page -c 4 -login manager@demo.nox:demo-password-1 -paths "$reports" -out "$work/reports_$1.json"
  row "Reports page + CSV, 90 days (4 managers), reads on the $1" "$work/reports_$1.json"
}
pages replica
./scripts/cluster.sh stop-replica
sleep 2
pages primary
./scripts/cluster.sh start-replica

{
  echo "# make bench-cluster — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$(nproc) CPUs, $conns connections, $dur per measurement; HAProxy round-robin over the instances;"
  echo "ceilings measured on the fleet's primary in the same run. Scale: the dev seed (90 days of report history)"
  echo "plus what the run itself creates."
  echo
  echo "| Measurement | per second | p99 ms | errors | ratio to ceiling |"
  echo "|---|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} >bench/cluster-results.md
cat bench/cluster-results.md
