#!/usr/bin/env bash
# Project-local Postgres: pg.sh up | down | url | status
# Data lives in $NOX_PG_DIR (default .pgdata/ in the repo, git-ignored) and the
# server listens on 127.0.0.1:$NOX_PG_PORT (default 54329) only. Postgres
# refuses to run as root, so as root the server runs as the 'postgres' user.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${NOX_PG_DIR:-$root/.pgdata}
# As root the server runs as 'postgres', which must reach the data folder: a
# checkout under a private home (e.g. /root) gets one under /var/tmp instead.
if [ -z "${NOX_PG_DIR:-}" ] && [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
  dir=/var/tmp/noxportal-pgdata-$(printf '%s' "$root" | sha256sum | cut -c1-12)
fi
port=${NOX_PG_PORT:-54329}
bindir=${NOX_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
[ -x "$bindir/pg_ctl" ] || { echo "pg.sh: no Postgres binaries found (install postgresql)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

url() { echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"; }

# say prints a line for the person at the terminal (stderr: stdout is the URL).
say() { echo "pg.sh: $*" >&2; }

up() {
  # A server already answering on the port (another checkout's) is reused.
  if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null && [ ! -f "$dir/data/postmaster.pid" ]; then
    say "reusing the Postgres already answering on 127.0.0.1:$port (not started from $dir; set NOX_PG_PORT for a separate one)"
    return 0
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; chmod 700 "$dir"; fi
  if [ ! -s "$dir/data/PG_VERSION" ]; then
    say "creating a Postgres data folder in $dir/data"
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 1000
shared_buffers = 256MB
fsync = on
synchronous_commit = on
CONF
  fi
  if as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    say "Postgres already running on 127.0.0.1:$port, data in $dir/data"
    return 0
  fi
  as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
    || { tail -n 30 "$dir/server.log" >&2; exit 1; }
  say "started Postgres on 127.0.0.1:$port, data in $dir/data (log: $dir/server.log)"
}

down() {
  [ -s "$dir/data/PG_VERSION" ] || return 0
  as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  up) up; url ;;
  down) down ;;
  url) url ;;
  status) as_pg "$bindir/pg_ctl" -D "$dir/data" status ;;
  *) echo "usage: pg.sh up|down|url|status" >&2; exit 2 ;;
esac
