#!/usr/bin/env bash
# PostgreSQL and Redis on loopback for the production-profile tests: `up` starts each one that
# does not answer (installing Debian's package where it is missing) and records what it
# started; `down` stops exactly that. Servers already running are used and left running.
#   scripts/test-services.sh up|down      (ports: PGPORT=5432, REDIS_PORT=6379)
set -euo pipefail
cd "$(dirname "$0")/.."

PGPORT="${PGPORT:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"
STATE=.services
STARTED="$STATE/started"
SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # port name
    for _ in $(seq 1 60); do answers "$1" && return 0; sleep 0.5; done
    echo "$2 did not come up on 127.0.0.1:$1" >&2
    return 1
}

apt_install() {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
        { $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "$@"; }
}

as_postgres() {  # initdb and postgres refuse to run as root
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -z "$bin" ]; then apt_install postgresql; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); fi
    # a private cluster with trust auth on loopback, in the project's git-ignored .services/
    local data="$PWD/$STATE/postgres"
    mkdir -p "$STATE"
    if [ ! -s "$data/PG_VERSION" ]; then
        mkdir -p "$data"
        [ "$(id -u)" = 0 ] && chown postgres "$data"
        as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust >/dev/null
    fi
    [ "$(id -u)" = 0 ] && chown -R postgres "$data"
    as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
        -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k $data" start >/dev/null
    echo "postgres $bin/pg_ctl $data" >> "$STARTED"
}

start_redis() {
    command -v redis-server >/dev/null || apt_install redis-server
    mkdir -p "$STATE"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' \
        --appendonly no --pidfile "$PWD/$STATE/redis.pid" --logfile "$PWD/$STATE/redis.log"
    echo "redis $PWD/$STATE/redis.pid" >> "$STARTED"
}

case "${1:-}" in
up)
    if answers "$PGPORT"; then echo "PostgreSQL answers on 127.0.0.1:$PGPORT"
    else start_postgres && wait_for "$PGPORT" PostgreSQL && echo "started PostgreSQL on 127.0.0.1:$PGPORT"; fi
    if answers "$REDIS_PORT"; then echo "Redis answers on 127.0.0.1:$REDIS_PORT"
    else start_redis && wait_for "$REDIS_PORT" Redis && echo "started Redis on 127.0.0.1:$REDIS_PORT"; fi
    ;;
down)
    [ -f "$STARTED" ] || exit 0
    while read -r kind a b; do
        case "$kind" in
        postgres) as_postgres "$a" -D "$b" -m fast stop >/dev/null && echo "stopped PostgreSQL" ;;
        redis) kill "$(cat "$a")" 2>/dev/null && echo "stopped Redis" || true ;;
        esac
    done < "$STARTED"
    rm -f "$STARTED"
    ;;
*)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
