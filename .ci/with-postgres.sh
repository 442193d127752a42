#!/usr/bin/env bash
# Runs a command against a private, throw-away PostgreSQL cluster:
#   bash .ci/with-postgres.sh uv run --frozen pytest -q tests/server
# The cluster lives in a temporary folder, listens on 127.0.0.1 only, on a free port, with a
# random password; the command gets DATABASE_URL pointing at it. The cluster is stopped and its
# folder removed when the command ends, whatever its outcome. PostgreSQL refuses to run as root,
# so as root the cluster runs as a dedicated system user (created once, no login).
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
    echo "with-postgres: no PostgreSQL server found (run .ci/install-postgres.sh as root)" >&2
    exit 1
fi

PG_USER_NAME=rfatrial-pg
as_owner=()
if [[ "$(id -u)" -eq 0 ]]; then
    if ! id "$PG_USER_NAME" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER_NAME"
    fi
    as_owner=(runuser -u "$PG_USER_NAME" --)
fi

root="$(mktemp -d /tmp/rfatrial-pg-XXXXXX)"
data="$root/data"
password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
printf '%s\n' "$password" >"$root/pwfile"
chmod 700 "$root"
chmod 600 "$root/pwfile"
if [[ ${#as_owner[@]} -gt 0 ]]; then
    chown -R "$PG_USER_NAME" "$root"
fi

stop() {
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$root"
}
trap stop EXIT
trap 'exit 143' INT TERM  # stopped from outside: the EXIT trap still stops the cluster

"${as_owner[@]}" "$bindir/initdb" -D "$data" -U rfatrial --pwfile="$root/pwfile" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$root/initdb.log" 2>&1 ||
    { cat "$root/initdb.log" >&2; exit 1; }
rm -f "$root/pwfile"
# Tests only: fsync off makes the many small test transactions fast; nothing here is kept.
"${as_owner[@]}" "$bindir/pg_ctl" -D "$data" -l "$root/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$root -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$root/server.log" >&2; exit 1; }

export DATABASE_URL="postgres://rfatrial:$password@127.0.0.1:$port/rfatrial"
export PGPASSWORD="$password"
"${as_owner[@]}" env PGPASSWORD="$password" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U rfatrial rfatrial
echo "with-postgres: $("$bindir/postgres" -V) on 127.0.0.1:$port"
"$@"
