"""Who is calling: the browser's Django session (with CSRF on writes) or a script's bearer token.

A token is shown once, when it is made (``rfa_`` and 43 URL-safe characters); the database keeps
its SHA-256 only. A revoked token, or one of an inactive user, authenticates nobody.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer

from rfatrial.server.api.models import ApiToken

__all__ = ["SessionAuth", "TokenAuth", "create_token", "token_hash"]

PREFIX = "rfa_"
LAST_USED_PRECISION = timedelta(minutes=1)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(user: Any, name: str) -> tuple[ApiToken, str]:
    """A new token of ``user``: the stored row and the raw token (shown once, never stored)."""
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[: len(PREFIX) + 4], key_hash=token_hash(raw)
    )
    return token, raw


class TokenAuth(HttpBearer):
    """``Authorization: Bearer rfa_...`` for scripts."""

    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if not token.startswith(PREFIX):
            return None
        row = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=token_hash(token), revoked_at__isnull=True)
            .first()
        )
        if row is None or not row.user.is_active:
            return None
        # Recorded to the minute: a write on every request would queue the readers of a busy
        # server behind the database's write lock.
        now = timezone.now()
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.user
        return row.user


class SessionAuth(APIKeyCookie):
    """The browser's Django session; writes must carry the CSRF token (``X-CSRFToken``)."""

    param_name: str = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None
