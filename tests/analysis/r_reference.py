"""Run R (``survival``, ``cmprsk``) on the same data as the Python estimators.

Data sets are written as CSV files (17 significant digits) to a temporary directory; the R
script prints ``key<TAB>v1,v2,...`` lines (``%.17g``), read back as float arrays (NA -> NaN).
Without ``Rscript`` the tests fail, never skip: the comparison with R is the evidence that
the study's statistics are right.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

INSTALL_HINT = (
    "R with survival and cmprsk is required for these tests: run `.ci/install-r.sh` as root "
    "(Debian: installs r-base-core r-cran-survival r-cran-cmprsk r-cran-rpact)."
)

Table = dict[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]]

R_PRELUDE = r"""
suppressPackageStartupMessages({library(survival); library(cmprsk)})
out <- function(key, v) {
  cat(key, "\t", paste(sprintf("%.17g", as.numeric(v)), collapse = ","), "\n", sep = "")
}
read <- function(name) read.csv(file.path(DIR, paste0(name, ".csv")))
"""


def _write_csv(path: Path, table: Table) -> None:
    columns = list(table)
    rows = zip(*(np.asarray(table[c]).tolist() for c in columns), strict=True)
    lines = [",".join(columns)]
    lines.extend(",".join(repr(v) for v in row) for row in rows)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _parse(value: str) -> float:
    if value in ("NA", "NaN"):
        return math.nan
    return float(value)


def run_r(script: str, tables: dict[str, Table], timeout: float = 300) -> dict[str, np.ndarray]:
    """Run ``script`` after the prelude with ``DIR`` holding ``tables`` as CSV files."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.fail(f"Rscript not found on PATH. {INSTALL_HINT}", pytrace=False)
    with tempfile.TemporaryDirectory() as tmp:
        for name, table in tables.items():
            _write_csv(Path(tmp) / f"{name}.csv", table)
        path = Path(tmp) / "check.R"
        path.write_text(f'DIR <- "{tmp}"\n{R_PRELUDE}\n{script}', encoding="utf-8")
        proc = subprocess.run(
            [rscript, "--vanilla", str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if proc.returncode != 0:
        pytest.fail(
            f"Rscript failed ({proc.returncode}): {proc.stderr[-2000:]}\n{INSTALL_HINT}",
            pytrace=False,
        )
    results: dict[str, np.ndarray] = {}
    for line in proc.stdout.splitlines():
        if "\t" not in line:
            continue
        key, values = line.split("\t", 1)
        results[key] = np.array([_parse(v) for v in values.split(",")] if values else [])
    return results


def assert_close(ours: object, theirs: object, atol: float, what: str, rtol: float = 0.0) -> None:
    """Equal arrays up to ``atol`` (+ ``rtol``), NaN where R has NA, infinities equal."""
    a = np.atleast_1d(np.asarray(ours, dtype=np.float64))
    b = np.atleast_1d(np.asarray(theirs, dtype=np.float64))
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs R {b.shape}"
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, equal_nan=True, err_msg=what)
