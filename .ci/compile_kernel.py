"""Compile the pathway engine's hot modules and the simulated care team with mypyc, in place
(``make kernel``).

The extension modules are built beside their sources (in src/rfatrial/kernel and simulation),
with the shared library of the group in src/ and the digest of the sources in
src/rfatrial/kernel/_compiled.json (all ignored by git; the C sources and objects go to .build/).
Nothing is done when the compiled modules are current. Without them rfatrial runs their Python
sources, with the same results; an out-of-date build is never used (rfatrial/kernel/_compiled.py).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
BUILD = ROOT / ".build" / "mypyc"


def main() -> None:
    os.environ["RFATRIAL_PURE"] = "1"  # read the module list without loading any old build
    sys.path.insert(0, str(SRC))
    from rfatrial.kernel import _compiled

    if _compiled.current():
        print("kernel: the compiled modules are current")
        return
    # every extension of the packages that hold compiled modules, also of a module since dropped
    packages = {_compiled.source(name).parent for name in _compiled.COMPILED}
    for old in [
        *(p for d in packages for p in d.glob("*.so")),
        *SRC.glob(f"{_compiled.GROUP}__mypyc*.so"),
    ]:
        old.unlink()
    _compiled.RECORD.unlink(missing_ok=True)
    digest = _compiled.source_digest()
    started = time.monotonic()

    from mypyc.build import mypycify
    from setuptools import setup

    os.chdir(SRC)
    os.environ["MYPY_CACHE_DIR"] = str(BUILD / "mypy_cache")
    modules = mypycify(
        [str(_compiled.source(name).relative_to(SRC)) for name in _compiled.COMPILED],
        opt_level="3",
        group_name=_compiled.GROUP,
        target_dir=str(BUILD / "c"),
    )
    setup(
        name="rfatrial-kernel-compiled",
        ext_modules=modules,
        script_args=[
            "--quiet",
            "build_ext",
            "--inplace",
            "--parallel",
            str(os.cpu_count() or 1),
            "--build-temp",
            str(BUILD / "temp"),
            "--build-lib",
            str(BUILD / "lib"),
        ],
    )
    if _compiled.source_digest() != digest:
        sys.exit("kernel: a source changed while it was compiled; run `make kernel` again")
    _compiled.RECORD.write_text(json.dumps({"digest": digest}) + "\n")
    took = time.monotonic() - started
    print(f"kernel: compiled {len(_compiled.COMPILED)} modules with mypyc in {took:.0f} s")


if __name__ == "__main__":
    main()
