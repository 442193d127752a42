#!/usr/bin/env bash
# Usage: apt-install.sh NAME [--with-recommends] PACKAGE...
# Installs the Debian packages that are not installed yet (without the packages they recommend,
# unless --with-recommends). Idempotent:
# does nothing when every package is installed; runs `apt-get update` only when a missing package
# is unknown to the current lists, or when the mirror no longer has the files they point at.
# Must run as root to install. NAME prefixes the messages.
set -euo pipefail

name="$1"
shift
recommends=(--no-install-recommends)
if [[ "${1:-}" == "--with-recommends" ]]; then
    recommends=()
    shift
fi

missing=()
for pkg in "$@"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "$name: already installed: $*"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "$name: must run as root to install: ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

need_update=0
for pkg in "${missing[@]}"; do
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
        need_update=1
        break
    fi
done
if [[ $need_update -eq 1 ]]; then
    apt-get update
    apt-get install -y "${recommends[@]}" "${missing[@]}"
elif ! apt-get install -y "${recommends[@]}" "${missing[@]}"; then
    # The lists knew the packages but may point at files the mirror no longer has.
    apt-get update
    apt-get install -y "${recommends[@]}" "${missing[@]}"
fi
