#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; the
# browsers Playwright downloads itself are never used), with the packages it recommends (fonts).
# See apt-install.sh. Must run as root to install.
set -euo pipefail

# fonts-wqy-microhei: CJK glyphs, so that the Simplified Chinese pages render (and their screenshots).
bash "$(dirname "$0")/apt-install.sh" install-browser --with-recommends chromium fonts-wqy-microhei

/usr/bin/chromium --version
