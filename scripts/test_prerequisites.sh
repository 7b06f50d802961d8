#!/usr/bin/env bash
# Everything `make test` needs outside the Python environment, set up idempotently and quietly:
# - Debian packages: Node.js + npm (Node.js Lambda handlers), Chromium + a font (the UI's browser
#   tests), Postgres and Redis (the CeleryExecutor tests and the Postgres catalog tests);
# - Postgres and Redis running on 127.0.0.1 (started when they are not);
# - the Postgres role `lambdapipe` (password `lambdapipe`, CREATEDB: each test creates and drops its
#   own database) and its database, used by `devstack.py --executor CeleryExecutor` too.
# Installs via apt-get as root, or via sudo when it needs no password. Where neither is possible it
# stops with one line naming the exact packages to install. Prints nothing when all is in place.
set -euo pipefail

PG_PORT=5432
REDIS_PORT=6379
ROLE=lambdapipe

say() { echo "test prerequisites: $*"; }
fail() { echo "test prerequisites: $*" >&2; exit 1; }

as_root=()
if [[ $(id -u) -ne 0 ]]; then
    if sudo -n true 2>/dev/null; then as_root=(sudo -n); else as_root=(cannot); fi
fi
root() {  # run a command as root, or fail with the one line that says what to run instead
    [[ ${as_root[0]:-} != cannot ]] || fail "needs root for: $* (run it with sudo, then make test again)"
    "${as_root[@]}" "$@"
}

packages=()
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
# Playwright drives Debian's Chromium at this path; fonts-liberation is only a recommendation of
# chromium-common, but a page without a font renders nothing.
[[ -x /usr/bin/chromium ]] || packages+=(chromium)
[[ -d /usr/share/fonts/truetype/liberation ]] || packages+=(fonts-liberation)
command -v pg_ctlcluster >/dev/null || packages+=(postgresql)
command -v redis-server >/dev/null || packages+=(redis-server)
if ((${#packages[@]})); then
    [[ ${as_root[0]:-} != cannot ]] || fail "missing Debian packages: sudo apt-get install ${packages[*]}"
    say "installing ${packages[*]} (apt-get)"
    root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive root apt-get install -y -qq --no-install-recommends "${packages[@]}" \
        >/dev/null
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {  # $1 port, $2 name
    for _ in $(seq 1 60); do
        port_open "$1" && return 0
        sleep 0.5
    done
    fail "$2 is not listening on 127.0.0.1:$1 after 30 s"
}

if ! port_open "$PG_PORT"; then
    version=$(ls /etc/postgresql | sort -V | tail -1)
    say "starting Postgres $version on 127.0.0.1:$PG_PORT"
    # A freshly installed cluster listens on localhost; pin it to the IPv4 loopback.
    conf_dir="/etc/postgresql/$version/main/conf.d"
    if [[ -d $conf_dir ]] && ! grep -rqs "^listen_addresses" "$conf_dir"; then
        echo "listen_addresses = '127.0.0.1'" | root tee "$conf_dir/90-lambdapipe.conf" >/dev/null
    fi
    root pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
wait_for_port "$PG_PORT" Postgres

if ! port_open "$REDIS_PORT"; then
    say "starting Redis on 127.0.0.1:$REDIS_PORT"
    root mkdir -p /var/lib/redis /var/log/redis
    root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/lambdapipe.log
fi
wait_for_port "$REDIS_PORT" Redis

# The role and database, as the postgres superuser over the local socket (works with trust and with
# Debian's peer default); only when the role cannot log in yet, so a ready machine needs no root.
if ! PGPASSWORD=$ROLE PGCONNECT_TIMEOUT=5 psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$ROLE" -d "$ROLE" \
    -c "SELECT 1" >/dev/null 2>&1; then
    say "creating the Postgres role and database $ROLE"
    (cd / && root runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres <<SQL
SELECT 'CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD ''$ROLE'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE')\gexec
SELECT 'CREATE DATABASE $ROLE OWNER $ROLE'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$ROLE')\gexec
SQL
    )  # from /, which the postgres user can always enter
fi
