"""Electronic signatures (password re-entered; voided by any later change) and record locks."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from rfatrial.server.monitoring import signing
from rfatrial.server.monitoring.models import Signature
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor
from rfatrial.server.study.services import amend_event, delete_event
from tests.server.api.conftest import World
from tests.server.monitoring.helpers import SITE_TEAM, adverse_event, record

PASSWORD = "a long signing password"
DATA_MANAGER = Actor("a data manager")


@pytest.fixture
def investigator(world: World) -> Any:
    user = world.users["investigator"]
    user.set_password(PASSWORD)
    user.first_name, user.last_name = "Site", "Investigator"
    user.save()
    return user


def _ae(world: World) -> m.AdverseEvent:
    row = m.AdverseEvent.objects.filter(patient=world.p1).first()
    assert row is not None
    return row


def _sign(
    record: Any, user: Any, password: str = PASSWORD, roles: set[str] | None = None
) -> Signature:
    return signing.sign_record(
        record,
        user=user,
        password=password,
        actor=Actor(user.get_username(), "10.0.0.1"),
        roles=roles or {"investigator"},
    )


def test_the_investigator_signs_with_his_password(world: World, investigator: Any) -> None:
    ae = _ae(world)
    sig = _sign(ae, investigator)
    assert (sig.signer, sig.signer_name, sig.record_version) == (
        "investigator1",
        "Site Investigator",
        1,
    )
    assert "complete and accurate" in sig.meaning and sig.signed_at is not None
    assert sig.voided_at is None
    entry = m.AuditEntry.objects.filter(table="monitoring_signature").get()
    assert entry.actor == "investigator1" and entry.ip == "10.0.0.1"
    with pytest.raises(signing.AlreadySignedError):
        _sign(ae, investigator)


def test_a_wrong_password_or_another_role_signs_nothing(world: World, investigator: Any) -> None:
    with pytest.raises(signing.PasswordError, match="password is wrong"):
        _sign(_ae(world), investigator, password="guess")
    coordinator = world.users["coordinator"]
    coordinator.set_password(PASSWORD)
    with pytest.raises(signing.SigningPermissionError, match="investigator"):
        _sign(_ae(world), coordinator, roles={"coordinator", "monitor", "data_manager"})
    assert Signature.objects.count() == 0


def test_guessing_the_password_is_throttled(world: World, investigator: Any) -> None:
    from django.core.cache import cache

    cache.clear()
    for _ in range(5):
        with pytest.raises(signing.PasswordError, match="wrong"):
            _sign(_ae(world), investigator, password="guess")
    with pytest.raises(signing.PasswordError, match="too many"):
        _sign(_ae(world), investigator)  # even the right one, for a while
    cache.clear()
    assert _sign(_ae(world), investigator).pk


def test_a_change_voids_the_signature_visibly(world: World, investigator: Any) -> None:
    ae = _ae(world)
    sig = _sign(ae, investigator)
    amend_event(
        world.p1,
        ae.seq,
        adverse_event(-2, grade=2),
        expected_version=ae.version,
        actor=SITE_TEAM,
        reason="grade corrected",
    )
    sig.refresh_from_db()
    assert sig.voided_at is not None and sig.voided_by == "a coordinator"
    assert sig.void_reason.startswith("signature voided by change on ")
    assert sig.void_reason.endswith("by a coordinator: grade corrected")
    voiding = m.AuditEntry.objects.filter(table="monitoring_signature", action="update").get()
    assert voiding.reason == "signature voided: grade corrected"
    # the record can be signed again, at its new version
    assert _sign(ae, investigator).record_version == 2


def test_a_correction_that_changes_nothing_keeps_the_signature(
    world: World, investigator: Any
) -> None:
    ae = _ae(world)
    sig = _sign(ae, investigator)
    amend_event(
        world.p1, ae.seq, adverse_event(-2), expected_version=1, actor=SITE_TEAM, reason="checked"
    )
    sig.refresh_from_db()
    assert sig.voided_at is None


def test_the_casebook_signs_every_record_not_signed(world: World, investigator: Any) -> None:
    _sign(_ae(world), investigator)
    done = signing.sign_casebook(
        world.p1,
        user=investigator,
        password=PASSWORD,
        actor=Actor("investigator1"),
        roles={"investigator"},
    )
    assert [s.record_kind for s in done] == ["screening"] and all(s.casebook for s in done)
    again = signing.sign_casebook(
        world.p1,
        user=investigator,
        password=PASSWORD,
        actor=Actor("investigator1"),
        roles={"investigator"},
    )
    assert again == []


def test_a_locked_record_refuses_every_change_until_unlocked(world: World) -> None:
    ae = _ae(world)
    with pytest.raises(signing.SigningPermissionError, match="data_manager"):
        signing.set_lock(ae, locked=True, actor=SITE_TEAM, roles={"investigator", "monitor"})
    signing.set_lock(ae, locked=True, actor=DATA_MANAGER, roles={"data_manager"})
    assert signing.is_locked(ae)
    before = m.AuditEntry.objects.count()
    with pytest.raises(signing.RecordLockedError, match=r"locked .* ask the data manager"):
        amend_event(
            world.p1,
            ae.seq,
            adverse_event(-2, grade=3),
            expected_version=1,
            actor=SITE_TEAM,
            reason="x",
        )
    with pytest.raises(signing.RecordLockedError):
        delete_event(world.p1, ae.seq, expected_version=1, actor=SITE_TEAM, reason="x")
    assert m.AuditEntry.objects.count() == before
    ae.refresh_from_db()
    assert ae.grade == 1 and ae.version == 1
    # other records of the patient stay open
    record(world.p1, adverse_event(-1, term="Fatigue"))
    signing.set_lock(ae, locked=False, actor=DATA_MANAGER, roles={"data_manager"})
    amend_event(
        world.p1,
        ae.seq,
        adverse_event(-2, grade=3),
        expected_version=1,
        actor=SITE_TEAM,
        reason="x",
    )
    ae.refresh_from_db()
    assert ae.grade == 3
    lock_entries = m.AuditEntry.objects.filter(table="monitoring_recordlock").values_list(
        "action", flat=True
    )
    assert list(lock_entries) == ["create", "update"]


def test_signatures_are_never_deleted(world: World, investigator: Any) -> None:
    sig = _sign(_ae(world), investigator)
    with pytest.raises(PermissionError):
        sig.delete()
    with pytest.raises(PermissionError):
        Signature.objects.all().delete()


def test_the_user_model_keeps_the_password_hashed(investigator: Any) -> None:
    stored = get_user_model().objects.get(pk=investigator.pk).password
    assert PASSWORD not in stored and investigator.check_password(PASSWORD)
