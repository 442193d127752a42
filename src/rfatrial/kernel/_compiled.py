"""The engine's hot modules compiled with mypyc, used only while they match their sources.

``make kernel`` (``.ci/compile_kernel.py``) compiles the modules of :data:`COMPILED` in place: an
extension module beside each source, and the digest of the sources they were built from in
``_compiled.json`` (neither is committed). Python imports an extension module before its source;
so that an edited source is never shadowed by an older build, :func:`install` (run when the kernel
package is imported) makes the kernel load its sources whenever the digest does not match, or when
``RFATRIAL_PURE=1`` asks for the pure-Python engine. Compiled or not, the results are the same
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

__all__ = ["COMPILED", "GROUP", "compiled", "current", "install", "source_digest"]

COMPILED = (
    "_recist_core",
    "_walk",
    "ablation",
    "evaluation",
    "follow_up",
    "lab_gate",
    "messages",
    "next_actions",
    "pathway",
)
"""The modules of this package that ``make kernel`` compiles."""

GROUP = "rfatrial_kernel"
"""mypyc's name for the shared library of the compiled modules (``src/rfatrial_kernel__mypyc*``)."""

_HERE = Path(__file__).resolve().parent
RECORD = _HERE / "_compiled.json"


def source_digest() -> str:
    """The SHA-256 of the sources of :data:`COMPILED` (what a build is checked against)."""
    digest = hashlib.sha256()
    for name in COMPILED:
        digest.update(name.encode() + b"\0")
        digest.update((_HERE / f"{name}.py").read_bytes())
    return digest.hexdigest()


def _extensions() -> list[Path]:
    return [
        path
        for name in COMPILED
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if (path := _HERE / f"{name}{suffix}").exists()
    ]


def current() -> bool:
    """Whether every module of :data:`COMPILED` has an extension built from its present source."""
    if len(_extensions()) != len(COMPILED):
        return False
    if not any(_HERE.parents[1].glob(f"{GROUP}__mypyc*")):  # their shared library, in src/
        return False
    try:
        recorded = json.loads(RECORD.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded.get("digest") == source_digest()


def compiled() -> bool:
    """Whether the engine running now is the compiled one."""
    module = sys.modules.get(f"{__package__}.pathway")
    return module is not None and not str(module.__file__).endswith(".py")


class _Sources(importlib.abc.MetaPathFinder):
    """Finds the modules of :data:`COMPILED` as their Python sources only."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != __package__ or name not in COMPILED:
            return None
        return importlib.util.spec_from_file_location(fullname, _HERE / f"{name}.py")


def install() -> None:
    """Make the kernel import its sources unless the compiled modules are current (all of them:
    compiled modules call each other directly, so they are used together or not at all)."""
    if any(isinstance(f, _Sources) for f in sys.meta_path):
        return
    pure = os.environ.get("RFATRIAL_PURE", "") not in ("", "0")
    if _extensions() and (pure or not current()):
        sys.meta_path.insert(0, _Sources())
