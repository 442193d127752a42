"""URL routes of the study server (the REST API is mounted here)."""

from __future__ import annotations

from typing import Any

from django.urls import include, path

from rfatrial.server.api.endpoints import api
from rfatrial.server.language.views import set_language

urlpatterns: list[Any] = [
    path("api/", api.urls),
    path("language/", set_language, name="set_language"),
    path("", include("rfatrial.server.monitoring.urls")),
    path("", include("rfatrial.server.web.urls")),
]
