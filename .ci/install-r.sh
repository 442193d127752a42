#!/usr/bin/env bash
# Installs R with the survival packages used by the power tests and benchmarks
# (rpact, survival, cmprsk) from Debian's packages (see apt-install.sh). Must run as root.
set -euo pipefail

bash "$(dirname "$0")/apt-install.sh" install-r r-base-core r-cran-survival r-cran-cmprsk r-cran-rpact

Rscript -e 'suppressPackageStartupMessages(library(rpact)); cat("rpact", as.character(packageVersion("rpact")), "\n")'
