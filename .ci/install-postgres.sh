#!/usr/bin/env bash
# Installs Debian's PostgreSQL server for the second run of the server tests (.ci/with-postgres.sh
# starts a private cluster from its binaries; the system's own cluster is never used). Idempotent:
# does nothing when the server is installed; runs `apt-get update` only when the package is unknown
# to the current lists or the mirror no longer has the files they point at. Must run as root to install.
set -euo pipefail

PACKAGES=(postgresql)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]] && compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    echo "install-postgres: already installed: ${PACKAGES[*]}"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "install-postgres: must run as root to install: ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

if ! apt-cache show postgresql >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
elif ! apt-get install -y --no-install-recommends "${missing[@]}"; then
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

ls /usr/lib/postgresql/*/bin/initdb
