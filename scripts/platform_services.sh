#!/usr/bin/env bash
# Postgres and Redis for the CeleryExecutor stack and its end-to-end tests (tests/platform/), on
# 127.0.0.1 only. Idempotent: installs them from Debian's packages if missing, starts them if they are
# not running, and creates the role `lambdapipe` (password `lambdapipe`, CREATEDB: each test creates
# and drops its own database) and the database `lambdapipe` for `devstack.py --executor CeleryExecutor`.
# Run as root (CI) or with sudo available.
set -euo pipefail

PG_PORT=5432
REDIS_PORT=6379
ROLE=lambdapipe

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"

missing=()
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
if ((${#missing[@]})); then
    echo "platform_services: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {  # $1 port, $2 name
    for _ in $(seq 1 60); do
        port_open "$1" && return 0
        sleep 0.5
    done
    echo "platform_services: $2 is not listening on 127.0.0.1:$1 after 30 s" >&2
    return 1
}

if ! port_open "$PG_PORT"; then
    version=$(ls /etc/postgresql | sort -V | tail -1)
    echo "platform_services: starting Postgres $version"
    # A freshly installed cluster listens on localhost; pin it to the IPv4 loopback.
    conf_dir="/etc/postgresql/$version/main/conf.d"
    if [[ -d $conf_dir ]] && ! grep -rqs "^listen_addresses" "$conf_dir"; then
        echo "listen_addresses = '127.0.0.1'" | $sudo tee "$conf_dir/90-lambdapipe.conf" >/dev/null
    fi
    $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
wait_for_port "$PG_PORT" Postgres

if ! port_open "$REDIS_PORT"; then
    echo "platform_services: starting Redis"
    $sudo mkdir -p /var/lib/redis /var/log/redis
    $sudo redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for_port "$REDIS_PORT" Redis

# As the postgres superuser over the local socket: works with trust and with Debian's peer default.
psql_admin() { $sudo runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"; }

psql_admin -d postgres <<SQL
SELECT 'CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD ''$ROLE'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE')\gexec
SELECT 'CREATE DATABASE $ROLE OWNER $ROLE'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$ROLE')\gexec
SQL
echo "platform_services: Postgres 127.0.0.1:$PG_PORT (role and database $ROLE), Redis 127.0.0.1:$REDIS_PORT"
