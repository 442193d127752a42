"""URL routes of the study server (the REST API is mounted here)."""

from __future__ import annotations

from typing import Any

from django.urls import include, path

urlpatterns: list[Any] = [
    path("", include("rfatrial.server.web.urls")),
]
