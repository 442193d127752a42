#!/usr/bin/env bash
# Installs R with the survival packages used by the power tests and benchmarks
# (rpact, survival, cmprsk) from Debian's packages. Idempotent: does nothing when
# everything is already installed; runs `apt-get update` only when a package is
# missing and cannot be found in the current package lists. Must run as root.
set -euo pipefail

PACKAGES=(r-base-core r-cran-survival r-cran-cmprsk r-cran-rpact)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-r: already installed: ${PACKAGES[*]}"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "install-r: must run as root to install: ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Refresh the package lists only when one of the missing packages is unknown to them.
need_update=0
for pkg in "${missing[@]}"; do
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
        need_update=1
        break
    fi
done
if [[ $need_update -eq 1 ]]; then
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
elif ! apt-get install -y --no-install-recommends "${missing[@]}"; then
    # The lists knew the packages but may point at files the mirror no longer has.
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

Rscript -e 'suppressPackageStartupMessages(library(rpact)); cat("rpact", as.character(packageVersion("rpact")), "\n")'
