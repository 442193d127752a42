"""The demo server's preparation: migrate, load a small simulated cohort once, the demo users."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import authenticate

from rfatrial.server.demo import DEMO_PASSWORD, DEMO_USERS, logins_text, prepare_demo
from rfatrial.server.study import models as m
from rfatrial.server.web.access import user_sites

pytestmark = pytest.mark.django_db


def test_the_demo_study_is_loaded_once_with_users_at_several_sites(tmp_path: Path) -> None:
    line = prepare_demo(tmp_path, patients=12)
    stored = m.Patient.objects.count()
    assert stored >= 1 and f"{stored} simulated patient(s)" in line
    assert (tmp_path / "demo-loaded").exists()
    assert m.PatientState.objects.count() == stored
    # every history ends by today: nothing recorded in the future
    files = list((tmp_path / "demo-cohort").glob("*.json"))
    assert len(files) == stored
    line = prepare_demo(tmp_path, patients=12)
    assert "re-evaluated" in line and m.Patient.objects.count() == stored
    for demo in DEMO_USERS:
        user = authenticate(username=demo.username, password=DEMO_PASSWORD)
        assert user is not None, demo.username
        assert user_sites(user) == sorted(demo.roles)
    assert any(len(d.roles) > 1 for d in DEMO_USERS)
    text = logins_text("127.0.0.1", 8000)
    assert "http://127.0.0.1:8000/" in text and all(d.username in text for d in DEMO_USERS)
