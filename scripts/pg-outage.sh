#!/usr/bin/env bash
# A PostgreSQL cluster of outsync's own (Debian's cluster tools, port 5433, trust auth) that
# the outage test restarts without disturbing the server the other tests share.
#   scripts/pg-outage.sh start|stop|restart|url
set -euo pipefail
PORT="${OUTSYNC_OUTAGE_PG_PORT:-5433}"
NAME=outsync_outage

version() { ls /etc/postgresql | sort -V | tail -n 1; }

wait_ready() {
    for _ in $(seq 1 60); do
        pg_isready -q -h 127.0.0.1 -p "$PORT" && return 0
        sleep 0.5
    done
    echo "PostgreSQL cluster $NAME did not come up on port $PORT" >&2
    return 1
}

ctl() { pg_ctlcluster --skip-systemctl-redirect "$(version)" "$NAME" "$@"; }

case "${1:-}" in
    start)
        if [ ! -d "/etc/postgresql/$(version)/$NAME" ]; then
            pg_createcluster "$(version)" "$NAME" --port "$PORT" -- --auth=trust >/dev/null
        fi
        pg_isready -q -h 127.0.0.1 -p "$PORT" || ctl start
        wait_ready
        ;;
    stop) ctl stop -m fast || true ;;
    restart)
        ctl restart -m fast
        wait_ready
        ;;
    url) echo "postgres://postgres@127.0.0.1:$PORT/postgres" ;;
    *)
        echo "usage: $0 start|stop|restart|url" >&2
        exit 2
        ;;
esac
