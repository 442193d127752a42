"""Which languages the interface ships in, and how a user's choice is stored."""

from __future__ import annotations

from django.conf import settings

# The session keeps the user's choice so that the database is read once per sign-in.
SESSION_LANGUAGE = "language.choice"


def supported(code: str | None) -> str | None:
    """``code`` if the interface ships in that language, else ``None``."""
    codes = {c for c, _ in settings.LANGUAGES}
    return code if code in codes else None
