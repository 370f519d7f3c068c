#!/usr/bin/env bash
# Installs and runs a GNU Mailman 3 core for outsync's integration tests and benchmark:
#
#   scripts/mailman.sh install|start|stop|restart|url|log
#   scripts/mailman.sh addmembers LIST FILE
#
# The book's mailing-list chapter ("Running Mailman for tests and the example") describes
# each command and the environment variables that place the server.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${OUTSYNC_MAILMAN_DIR:-$here/target/mailman}
port=${OUTSYNC_MAILMAN_PORT:-8001}
venv=$dir/venv
cfg=$dir/mailman.cfg
user=restadmin
pass=${OUTSYNC_MAILMAN_PASSWORD:-restpass}
rest="http://127.0.0.1:$port/3.1"

mailman() { "$venv/bin/mailman" --run-as-root -C "$cfg" "$@"; }
up() { curl -fsS -u "$user:$pass" "$rest/system/versions" >/dev/null 2>&1; }

install() {
    mkdir -p "$dir/var"
    if [ ! -x "$venv/bin/mailman" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "mailman==3.3.10" "sqlalchemy<2.1"
    fi
    cat > "$cfg" <<CFG
[mailman]
site_owner: postmaster@example.org
layout: here

[paths.here]
var_dir: $dir/var

[mta]
incoming: mailman.mta.null.NullMTA
outgoing: mailman.mta.deliver.deliver
smtp_host: 127.0.0.1
smtp_port: 9
lmtp_host: 127.0.0.1
lmtp_port: $((port + 23))

[webservice]
hostname: 127.0.0.1
port: $port
admin_user: $user
admin_pass: $pass

[database]
class: mailman.database.sqlite.SQLiteDatabase
url: sqlite:///$dir/var/data/mailman.db
CFG
}

start() {
    [ -f "$cfg" ] || install
    if up; then return 0; fi
    mailman start --force >"$dir/start.log" 2>&1 </dev/null || true
    for _ in $(seq 1 120); do
        if up; then return 0; fi
        sleep 0.5
    done
    echo "Mailman did not come up; see $dir/start.log and $dir/var/logs/mailman.log" >&2
    cat "$dir/start.log" >&2 || true
    return 1
}

stop() {
    [ -f "$cfg" ] || return 0
    local pidfile=$dir/var/master.pid pid
    pid=$(cat "$pidfile" 2>/dev/null || true)
    mailman stop >/dev/null 2>&1 || true
    # The master exits after its runners; wait for it so that a start right after works.
    for _ in $(seq 1 60); do
        if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then break; fi
        sleep 0.5
    done
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
    fi
    pkill -9 -f "$venv/bin/runner" 2>/dev/null || true
    rm -f "$pidfile"
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    url) echo "http://$user:$pass@127.0.0.1:$port" ;;
    addmembers) mailman addmembers --no-welcome-msg "$3" "$2" ;;
    log) echo "$dir/var/logs/mailman.log" ;;
    *) echo "usage: $0 install|start|stop|restart|url|log|addmembers LIST FILE" >&2; exit 2 ;;
esac
