"""Monitoring's fixtures: the API's two sites and users (one per role at S01) and patients."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.api.conftest import World, make_world
from tests.server.web.conftest import Study, build_study


@pytest.fixture
def world(db: Any) -> World:
    return make_world(open_the_study=False)


@pytest.fixture
def study(db: Any) -> Study:
    """The web pages' small study (two sites, a coordinator each, a two-site monitor)."""
    from django.core.cache import cache

    cache.clear()  # sign-in throttling counts per process
    return build_study()
