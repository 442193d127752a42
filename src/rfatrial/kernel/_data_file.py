"""Human-edited TOML data files (the protocol, the patient model) read into validated models.

One way to read them, so that every file reports a problem the same way: the path, then one line
per bad key with the rule it breaks.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from rfatrial.kernel._records import Record

__all__ = ["format_validation_error", "load_model", "parse_model"]

M = TypeVar("M", bound=BaseModel | Record)

# Pydantic's internal names of the alternatives of a union, not keys of the file.
_TAGS = {"threshold_criterion", "score_criterion"}
_FRIENDLY = {
    "extra_forbidden": "unknown key (not part of this format; check the spelling)",
    "missing": "required key is missing",
    # the same, for the records of a history (pydantic dataclasses)
    "unexpected_keyword_argument": "unknown key (not part of this format; check the spelling)",
    "missing_keyword_argument": "required key is missing",
}


def format_validation_error(error: ValidationError, *, source: str = "") -> str:
    """One line per problem: the dotted key path, then the rule it breaks."""
    lines = []
    for item in error.errors():
        parts = [
            str(p) for p in item["loc"] if p not in _TAGS and not str(p).startswith("function-")
        ]
        path = ".".join(parts) or "(top level)"
        message = _FRIENDLY.get(item["type"]) or item["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    head = f"{source}: " if source else ""
    return head + f"{len(lines)} problem(s)\n" + "\n".join("  " + line for line in lines)


def parse_model(model: type[M], data: dict[str, Any], *, error: type[ValueError], source: str) -> M:
    """Validate an already-parsed mapping; a problem raises ``error`` naming each bad key."""
    try:
        return cast("M", model.model_validate(data))
    except ValidationError as exc:
        raise error(format_validation_error(exc, source=source)) from None


def load_model(model: type[M], path: str | Path, *, error: type[ValueError]) -> M:
    """Read and validate a TOML file; a missing file, bad TOML or a bad key raises ``error``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
    return parse_model(model, data, error=error, source=str(path))
