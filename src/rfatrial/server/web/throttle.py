"""Sign-in throttling: after too many failures for one user name from one address, wait.

Failures are counted per (user name, client address) in Django's cache over a sliding window. While
the limit is reached every attempt is refused, a correct password included, so that guessing gains
nothing; a successful sign-in clears the count. The default cache is per process, which is what the
demo's single-process server needs; several processes need a shared cache (``CACHES``).
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache

__all__ = ["MAX_FAILURES", "WINDOW_SECONDS", "clear", "locked_for", "record_failure"]

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


def _key(username: str, ip: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\0{ip}".encode()).hexdigest()
    return f"rfatrial:login-failures:{digest}"


def _recent(username: str, ip: str, now: float) -> list[float]:
    times: list[float] = cache.get(_key(username, ip), [])
    return [t for t in times if now - t < WINDOW_SECONDS]


def locked_for(username: str, ip: str, *, now: float | None = None) -> int:
    """Seconds until the next attempt is allowed (0: allowed now)."""
    now = time.time() if now is None else now
    recent = _recent(username, ip, now)
    if len(recent) < MAX_FAILURES:
        return 0
    return max(1, int(recent[-MAX_FAILURES] + WINDOW_SECONDS - now) + 1)


def record_failure(username: str, ip: str, *, now: float | None = None) -> int:
    """Count a failed attempt; the number of failures in the window."""
    now = time.time() if now is None else now
    recent = [*_recent(username, ip, now), now]
    cache.set(_key(username, ip), recent, WINDOW_SECONDS)
    return len(recent)


def clear(username: str, ip: str) -> None:
    cache.delete(_key(username, ip))
