#!/usr/bin/env bash
# A throwaway PostgreSQL server for the allocator tests: Unix socket only (no TCP), data in DIR.
#   scripts/test-postgres.sh start DIR   prints the libpq connection string on stdout
#   scripts/test-postgres.sh stop DIR    stops the server and removes DIR
# Needs apt postgresql (initdb, pg_ctl). PostgreSQL refuses to run as root: as root it runs as user postgres.
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?DIR}
# The server must not inherit descriptors of whoever started this (a test's pipes would never see EOF).
for fd in /proc/$$/fd/*; do n=${fd##*/}; if ((n > 2)); then eval "exec $n>&-" 2>/dev/null || true; fi; done
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$bin/initdb" ]] || { echo "test-postgres: no initdb (apt-get install postgresql)" >&2; exit 2; }
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
start)
    mkdir -p "$dir"
    [[ $(id -u) == 0 ]] && chown postgres: "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U fc --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories=$dir -c fsync=off -c max_connections=50" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "host=$dir user=fc dbname=postgres"
    ;;
stop)
    [[ -d "$dir/data" ]] && as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
