"""Django's management commands for the study database (``python -m rfatrial.server migrate``)."""

from __future__ import annotations

import os
import sys

from rfatrial.server import SETTINGS_MODULE

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Run a Django management command, e.g. ``main(["manage", "migrate"])``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv if argv is None else argv)


if __name__ == "__main__":
    main()
