"""URL routes of the study server (the REST API is mounted here)."""

from __future__ import annotations

from typing import Any

urlpatterns: list[Any] = []
