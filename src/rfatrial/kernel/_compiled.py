"""The engine's hot modules compiled with mypyc, used only while they match their sources.

``make kernel`` (``.ci/compile_kernel.py``) compiles the modules of :data:`COMPILED` in place: an
extension module beside each source, and the digest of the sources they were built from in
``_compiled.json`` (neither is committed). Python imports an extension module before its source;
so that an edited source is never shadowed by an older build, :func:`install` (run when the kernel
or the simulation package is imported) makes them load their sources whenever the digest does not
match, or when ``RFATRIAL_PURE=1`` asks for pure Python. Compiled or not, the results are the same
(tests/kernel/test_compiled.py compares them).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = [
    "COMPILED",
    "GROUP",
    "compiled",
    "current",
    "extensions",
    "install",
    "source",
    "source_digest",
]

COMPILED = (
    "kernel._liver_points",
    "kernel._recist_core",
    "kernel._walk",
    "kernel.ablation",
    "kernel.evaluation",
    "kernel.follow_up",
    "kernel.lab_gate",
    "kernel.messages",
    "kernel.next_actions",
    "kernel.pathway",
    "simulation.care_team",
)
"""The modules of ``rfatrial`` that ``make kernel`` compiles: the engine, and the simulated care
team that follows it (the closed loop)."""

GROUP = "rfatrial_kernel"
"""mypyc's name for the shared library of the compiled modules (``src/rfatrial_kernel__mypyc*``)."""

_HERE = Path(__file__).resolve().parent
_PACKAGE = _HERE.parent  # src/rfatrial
RECORD = _HERE / "_compiled.json"


def source(name: str) -> Path:
    """The Python source of module ``name`` of :data:`COMPILED`."""
    return _PACKAGE.joinpath(*name.split(".")).with_suffix(".py")


def source_digest() -> str:
    """The SHA-256 of the sources of :data:`COMPILED` (what a build is checked against)."""
    digest = hashlib.sha256()
    for name in COMPILED:
        digest.update(name.encode() + b"\0")
        digest.update(source(name).read_bytes())
    return digest.hexdigest()


def extensions() -> list[Path]:
    """The extension modules built beside the sources of :data:`COMPILED` (as they are now)."""
    return [
        path
        for name in COMPILED
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if (path := source(name).with_suffix(suffix)).exists()
    ]


def current() -> bool:
    """Whether every module of :data:`COMPILED` has an extension built from its present source."""
    if len(extensions()) != len(COMPILED):
        return False
    if not any(_PACKAGE.parent.glob(f"{GROUP}__mypyc*")):  # their shared library, in src/
        return False
    try:
        recorded = json.loads(RECORD.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded.get("digest") == source_digest()


def compiled() -> bool:
    """Whether the engine running now is the compiled one."""
    module = sys.modules.get("rfatrial.kernel.pathway")
    return module is not None and not str(module.__file__).endswith(".py")


class _Sources(importlib.abc.MetaPathFinder):
    """Finds the modules of :data:`COMPILED` as their Python sources only."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        root, _, name = fullname.partition(".")
        if root != "rfatrial" or name not in COMPILED:
            return None
        return importlib.util.spec_from_file_location(fullname, source(name))


def install() -> None:
    """Make ``rfatrial`` import the sources of :data:`COMPILED` unless their compiled modules are
    current (all of them: compiled modules call each other directly, so they are used together or
    not at all)."""
    if any(isinstance(f, _Sources) for f in sys.meta_path):
        return
    pure = os.environ.get("RFATRIAL_PURE", "") not in ("", "0")
    if extensions() and (pure or not current()):
        sys.meta_path.insert(0, _Sources())
