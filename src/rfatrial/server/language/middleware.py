"""Activate the signed-in user's chosen language (after Django's LocaleMiddleware and sign-in)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from rfatrial.server.language.choice import SESSION_LANGUAGE, supported


class UserLanguageMiddleware:
    """Use the language the user chose (kept in the session once read from the database).

    ``LocaleMiddleware`` has already picked a language from the cookie or the browser; a user's
    own choice wins over both, on every device they sign in from.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = self._chosen(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)

    @staticmethod
    def _chosen(request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        cached = request.session.get(SESSION_LANGUAGE)
        if cached is not None:
            return supported(cached) or None
        from rfatrial.server.language.models import LanguagePreference

        row = LanguagePreference.objects.filter(user=user).only("language").first()
        language = supported(row.language) if row else None
        request.session[SESSION_LANGUAGE] = language or ""
        return language
