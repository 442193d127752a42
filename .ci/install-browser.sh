#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; the
# browsers Playwright downloads itself are never used). Idempotent: does nothing when Chromium is
# already installed; runs `apt-get update` only when the package is unknown to the current lists
# or the mirror no longer has the files they point at. Must run as root to install.
set -euo pipefail

# fonts-wqy-microhei: CJK glyphs, so that the Simplified Chinese pages render (and their screenshots).
PACKAGES=(chromium fonts-wqy-microhei)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 && -x /usr/bin/chromium ]]; then
    echo "install-browser: already installed: ${PACKAGES[*]}"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "install-browser: must run as root to install: ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

if ! apt-cache show chromium >/dev/null 2>&1; then
    apt-get update
    apt-get install -y "${missing[@]}"
elif ! apt-get install -y "${missing[@]}"; then
    apt-get update
    apt-get install -y "${missing[@]}"
fi

/usr/bin/chromium --version
