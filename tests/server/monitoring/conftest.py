"""Monitoring's fixtures: the API's two sites and users (one per role at S01) and patients."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.api.conftest import World, make_world


@pytest.fixture
def world(db: Any) -> World:
    return make_world(open_the_study=False)
