#!/usr/bin/env bash
# Installs Debian's PostgreSQL server for the second run of the server tests (.ci/with-postgres.sh
# starts a private cluster from its binaries; the system's own cluster is never used). See
# apt-install.sh. Must run as root to install.
set -euo pipefail

bash "$(dirname "$0")/apt-install.sh" install-postgres postgresql

ls /usr/lib/postgresql/*/bin/initdb
