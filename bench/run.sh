#!/usr/bin/env bash
# make bench: measure noxportal against this machine's own ceilings.
# See bench/README.md. Everything runs on loopback against a Postgres of its
# own (port $BENCH_PG_PORT, data in .pgdata-bench/), which is left running.
#
# Scale and time (environment):
#   BENCH_SESSIONS   link sessions to load (default 10000000)
#   BENCH_MAPPINGS   mapped users to load (default BENCH_SESSIONS/10)
#   BENCH_DURATION   length of each measurement (default 15s)
#   BENCH_ROUNDS     rounds of ceiling + app for POST /link and the brand page (default 3)
#   BENCH_CONNS      concurrent connections (default 64)
#   BENCH_PG_PORT    Postgres port (default 54339)
#   BENCH_APP_PORT   port of the server under test (default 18089; the bare Fiber ceiling uses the
#                    next one, the server with the request log off +3, its metrics +4)
#   BENCH_RELOAD=0   keep the loaded database of the last run when its scale matches
#   BENCH_PPROF=1    serve pprof on 127.0.0.1:18091 during the run
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sessions=${BENCH_SESSIONS:-10000000}
mappings=${BENCH_MAPPINGS:-$((sessions / 10))}
dur=${BENCH_DURATION:-15s}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNS:-64}
export NOX_PG_PORT=${BENCH_PG_PORT:-54339}
export NOX_PG_DIR=$root/.pgdata-bench
app_port=${BENCH_APP_PORT:-18089}
app_addr=127.0.0.1:$app_port
ceiling_addr=127.0.0.1:$((app_port + 1))
dbname=noxbench
pgurl="postgres://postgres@127.0.0.1:$NOX_PG_PORT"
work=$root/tmp/bench
rm -rf "$work" && mkdir -p "$work"
say() { printf '\n== %s\n' "$*"; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

say "Postgres on port $NOX_PG_PORT ($NOX_PG_DIR)"
./scripts/pg.sh up >/dev/null
# The run drops and recreates its database: only on its own server, never on
# another Postgres that happens to listen on the port.
own=$(psql "$pgurl/postgres" -qAtc "SHOW data_directory" 2>/dev/null || true)
if [ -z "$own" ] || [ "$(realpath -m "$own")" != "$(realpath -m "$NOX_PG_DIR/data")" ]; then
  echo "bench/run.sh: the Postgres on 127.0.0.1:$NOX_PG_PORT is not the bench's own (data folder ${own:-unknown}, want $NOX_PG_DIR/data); stop it or set BENCH_PG_PORT" >&2
  exit 1
fi
# The bulk load skips WAL when the server keeps none for replicas. Commits
# (what the ceilings and the app measure) flush WAL exactly as before.
if [ "$(psql "$pgurl/postgres" -qAtc "SHOW wal_level")" != minimal ]; then
  psql "$pgurl/postgres" -qc "ALTER SYSTEM SET wal_level = minimal" -c "ALTER SYSTEM SET max_wal_senders = 0" \
    -c "ALTER SYSTEM SET max_wal_size = '4GB'"
  ./scripts/pg.sh down && ./scripts/pg.sh up >/dev/null
fi
psql "$pgurl/postgres" -qAtc "SELECT version() || ', wal_level=' || current_setting('wal_level')"

say "Build (release: -trimpath, no race detector)"
go build -trimpath -o bin/noxportal .
go build -trimpath -o bin/bench-load ./bench/load
go build -trimpath -o bin/bench-ceiling ./bench/ceiling

dburl="$pgurl/$dbname?sslmode=disable"
scale="$mappings mappings, $sessions sessions"
loaded=$(psql "$pgurl/postgres" -qAtc "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$dbname'" || true)
seed_note="reused from an earlier run"
if [ "${BENCH_RELOAD:-1}" != 0 ] || [ "$loaded" != "$scale" ]; then
  say "Load $scale"
  psql "$pgurl/postgres" -qc "DROP DATABASE IF EXISTS $dbname" -c "CREATE DATABASE $dbname"
  start=$(date +%s.%N)
  NOX_DATABASE_URL=$dburl NOX_LOG_LEVEL=warn ./bin/noxportal seed --mappings "$mappings" --sessions "$sessions" | tee "$work/seed.log"
  seed_secs=$(awk -v a="$start" -v b="$(date +%s.%N)" "BEGIN{print b-a}")
  psql "$pgurl/postgres" -qc "COMMENT ON DATABASE $dbname IS '$scale'"
  seed_note="$(printf '%.0f' "$seed_secs") s (\`noxportal seed\`, COPY, indexes rebuilt, ANALYZE)"
fi
psql "$dburl" -qAtc "SELECT 'database size: ' || pg_size_pretty(pg_database_size(current_database()))" | tee "$work/size.txt"
# Write the load's dirty pages out now, so no checkpoint of the bulk load
# lands inside a measurement.
psql "$dburl" -qc "CHECKPOINT"

secs=${dur%s}
pgb() { # id script extra-args...
  local id=$1 script=$2; shift 2
  (cd "$work" && pgbench -n -M prepared -c "$conns" -j 2 -T "$secs" -l --log-prefix="pgb_$id" "$@" -f "$root/$script" "$dburl") \
    | tee "$work/pgbench_$id.out" | grep -E '^(tps|latency|number of (transactions|failed))' >&2
  grep -oP "^tps = \\K[0-9.]+" "$work/pgbench_$id.out"
}

say "Ceiling: bare Fiber handler returning a string ($conns connections, $dur)"
./bin/bench-ceiling -addr "$ceiling_addr" &
ceiling_pid=$!
pids+=("$ceiling_pid")
for _ in $(seq 50); do curl -fs "http://$ceiling_addr/" >/dev/null && break; sleep 0.1; done
./bin/bench-load -mode plain -id fiber -name "bare Fiber handler (ceiling)" -url "http://$ceiling_addr/" -c "$conns" -d "$dur" \
  -out "$work/fiber.json"
kill "$ceiling_pid"; wait "$ceiling_pid" 2>/dev/null || true

# What the ceilings read and write: known tokens for the SELECT ceiling, and
# trigger-free copies of the tables a link creation writes.
ntokens=100000
psql "$dburl" -q -v ON_ERROR_STOP=1 -v ntokens=$ntokens -f bench/pgbench/setup.sql

say "noxportal on $app_addr"
pprof_env=()
if [ "${BENCH_PPROF:-0}" = 1 ]; then pprof_env=(NOX_SERVER_PPROF_ADDR=127.0.0.1:18091); fi
env NOX_DATABASE_URL="$dburl" NOX_SERVER_ADDR=$app_addr NOX_SERVER_PUBLIC_URL="http://$app_addr" \
  NOX_SANDBOX_ENABLED=true NOX_DEV_SEED=true NOX_LOG_FORMAT=json \
  NOX_SECURITY_API_RATE_LIMIT=1000000000 NOX_SECURITY_PAGE_RATE_LIMIT=1000000000 "${pprof_env[@]}" \
  ./bin/noxportal >"$work/server.log" 2>&1 &
app_pid=$!
pids+=("$app_pid")
for _ in $(seq 100); do curl -fs "http://$app_addr/readyz" >/dev/null && break; sleep 0.1; done
curl -fs "http://$app_addr/readyz" >/dev/null || { tail -n 30 "$work/server.log"; exit 1; }
key=nox_sk_demo_0000000000000000000000000000000000
app() { ./bin/bench-load -url "http://$app_addr" -key "$key" -pid "$app_pid" -c "$conns" -d "$dur" "$@"; }

# The same server with the API request log off (log.api_requests: false),
# for the POST /link before/after line.
nolog_addr=127.0.0.1:$((app_port + 3))
env NOX_DATABASE_URL="$dburl" NOX_SERVER_ADDR=$nolog_addr NOX_SERVER_PUBLIC_URL="http://$nolog_addr" \
  NOX_SANDBOX_ENABLED=true NOX_DEV_SEED=false NOX_LOG_FORMAT=json NOX_LOG_API_REQUESTS=false \
  NOX_SERVER_METRICS_ADDR=127.0.0.1:$((app_port + 4)) \
  NOX_SECURITY_API_RATE_LIMIT=1000000000 NOX_SECURITY_PAGE_RATE_LIMIT=1000000000 \
  ./bin/noxportal >"$work/server-nolog.log" 2>&1 &
nolog_pid=$!
pids+=("$nolog_pid")
for _ in $(seq 100); do curl -fs "http://$nolog_addr/readyz" >/dev/null && break; sleep 0.1; done
curl -fs "http://$nolog_addr/readyz" >/dev/null || { tail -n 30 "$work/server-nolog.log"; exit 1; }

# Each app measurement runs right after its ceilings, in $rounds rounds; the
# table shows the median of the rounds' ratios, so a change in the machine's
# other load between a ceiling and its measurement weighs less.
for r in $(seq "$rounds"); do
  say "Round $r/$rounds: pgbench prepared single-row INSERT of a link session ($conns clients, $dur)"
  tps=$(pgb "insert_r$r" bench/pgbench/insert.sql | tail -n1)
  ./bin/bench-load -mode pgbench -id "pg_insert_r$r" -name "pgbench prepared INSERT link session, real table (second ceiling)" \
    -c "$conns" -tps "$tps" -log "$work/pgb_insert_r$r.*" -out "$work/pg_insert_r$r.json"
  psql "$dburl" -qc "DELETE FROM link_sessions WHERE id LIKE 'pgb\_%'"
  say "Round $r/$rounds: pgbench prepared INSERT of a session + its created event, trigger-free copies ($conns clients, $dur)"
  tps=$(pgb "insert_free_r$r" bench/pgbench/insert_free.sql | tail -n1)
  ./bin/bench-load -mode pgbench -id "pg_insert_free_r$r" -name "pgbench prepared INSERT session + event, trigger-free copies (ceiling)" \
    -c "$conns" -tps "$tps" -log "$work/pgb_insert_free_r$r.*" -out "$work/pg_insert_free_r$r.json"
  psql "$dburl" -qc "TRUNCATE bench_free_events, bench_free_sessions"
  say "Round $r/$rounds: POST /users/{id}/link ($conns connections, $dur)"
  app -mode link -id "link_r$r" -name 'POST /users/{id}/link' -out "$work/link_r$r.json"
  say "Round $r/$rounds: POST /users/{id}/link with the API request log off ($conns connections, $dur)"
  ./bin/bench-load -url "http://$nolog_addr" -key "$key" -pid "$nolog_pid" -c "$conns" -d "$dur" \
    -mode link -id "link_nolog_r$r" -name 'POST /users/{id}/link, API request log off (before)' -out "$work/link_nolog_r$r.json"
  say "Round $r/$rounds: pgbench prepared SELECT by unique token hash ($conns clients, $dur)"
  tps=$(pgb "select_r$r" bench/pgbench/select.sql -D ntokens=$ntokens | tail -n1)
  ./bin/bench-load -mode pgbench -id "pg_select_r$r" -name "pgbench prepared SELECT by token hash (ceiling)" -c "$conns" \
    -tps "$tps" -log "$work/pgb_select_r$r.*" -out "$work/pg_select_r$r.json"
  say "Round $r/$rounds: GET /connect?token=… brand page, repeated views with the browser cookie ($conns connections, $dur)"
  app -mode brand -id "brand_r$r" -name 'GET /connect brand page (repeat view)' -pool 20 -out "$work/brand_r$r.json"
done
say "Full flow: create → brand → sandbox OAuth login/consent → callback → redirect ($conns connections, $dur)"
app -mode flow -id flow -name 'Full flow (8 requests)' -out "$work/flow.json"

# The console search and the reports: each is one function that writes a
# result file (see bench/README.md).
measure_admin_search() {
  # The console's search page (3+ character substrings of supplier user ids,
  # device ids and e-mail-like ids, rare and common), signed in as the demo
  # agent: first one search at a time (the server time of one search, which
  # the p95 target is about), then four agents at once for comparison.
  local paths='/console?q=0004217,/console?q=klant12,/console?q=u_3f9,/console?q=SBX-HEAT,/console?q=cust-0009'
  app -mode page -c 1 -id search -name 'Admin search, 3+ characters' \
    -login agent@demo.nox:demo-password-1 -paths "$paths" -out "$work/search.json"
  app -mode page -c 4 -id search4 -name 'Admin search, 3+ characters, 4 agents at once' \
    -login agent@demo.nox:demo-password-1 -paths "$paths" -out "$work/search4.json"
}
measure_reports() {
  # Server time of the whole report page (every chart and table) and of CSV
  # exports for a 90-day range, unfiltered and under each mix of filters,
  # signed in as the demo manager, one request at a time (so latency is the
  # server time of one report, not a queue).
  app -mode page -c 1 -id reports -name 'Reports page + CSV, 90-day range' \
    -login manager@demo.nox:demo-password-1 \
    -paths '/reports?range=90,/reports?range=90&brand=sandbox-heatpump,/reports?range=90&supplier=supplier_demo&language=de,/reports?range=90&language=nl&kind=supplier_link,/reports?range=90&supplier=supplier_demo&brand=sandbox-heatpump&language=nl&kind=supplier_link,/reports/export/brands.csv?range=90,/reports/export/suppliers.csv?range=90&language=nl,/reports/export/trend.csv?range=90' \
    -out "$work/reports.json"
}
measure_admin_search
measure_reports

kill "$app_pid"; wait "$app_pid" 2>/dev/null || true
kill "$nolog_pid"; wait "$nolog_pid" 2>/dev/null || true
psql "$dburl" -qc "DROP TABLE IF EXISTS bench_free_events, bench_free_sessions"

cat >"$work/head.md" <<EOF
# noxportal benchmark

- Run: $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average before: $(cut -d' ' -f1-3 /proc/loadavg)
- Data: $scale; $(cat "$work/size.txt"); load time: $seed_note
- Each measurement: $dur, $conns concurrent connections (pgbench: $conns clients, 2 threads), loopback, same Postgres; POST /link and the brand page: $rounds rounds, each right after its ceiling, median shown
- Brand page: repeated views of already-opened links with the browser cookie kept (the first view, which opens the session, is not measured)
EOF
say "Results (bench/results.md)"
./bin/bench-load report -in "$work" -head "$work/head.md" -out bench/results.md
