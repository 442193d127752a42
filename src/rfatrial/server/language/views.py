"""Change the interface language: for the user (stored) or, before sign-in, for the browser."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme

from rfatrial.server.language.choice import SESSION_LANGUAGE, supported
from rfatrial.server.language.models import LanguagePreference


def set_language(request: HttpRequest) -> HttpResponse:
    """Store the chosen language and go back to the page the user was on.

    An unsupported code is answered with 400 and the list of supported ones; nothing changes.
    """
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    language = supported(request.POST.get("language"))
    if language is None:
        codes = ", ".join(c for c, _ in settings.LANGUAGES)
        return HttpResponse(
            f"language: must be one of {codes}", status=400, content_type="text/plain"
        )
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    if request.user.is_authenticated:
        LanguagePreference.objects.update_or_create(
            user=request.user, defaults={"language": language}
        )
        request.session[SESSION_LANGUAGE] = language
    translation.activate(language)
    response = HttpResponseRedirect(next_url)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        httponly=True,
    )
    return response
