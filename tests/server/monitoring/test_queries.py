"""Data queries: who opens, answers, closes and re-opens them, the statuses, and that nothing of a
query is ever deleted."""

from __future__ import annotations

import pytest

from rfatrial.server.monitoring import queries as q
from rfatrial.server.monitoring.models import Query, QueryMessage
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import StaleRecordError
from tests.server.api.conftest import World
from tests.server.monitoring.helpers import MONITOR, SITE_TEAM, adverse_event, record


def _ae(world: World) -> m.AdverseEvent:
    row = m.AdverseEvent.objects.filter(patient=world.p1).first()
    assert row is not None
    return row


def test_a_monitor_opens_the_site_answers_the_monitor_closes(world: World) -> None:
    before = m.AuditEntry.objects.count()
    x = q.open_query(
        _ae(world), text="Grade 1 or 2?", field="grade", actor=MONITOR, roles={"monitor"}
    )
    assert (x.status, x.field, x.record_kind, x.opened_by) == (
        "new",
        "grade",
        "adverse_event",
        "a monitor",
    )
    q.answer_query(x, text="Grade 2, corrected.", actor=SITE_TEAM, roles={"coordinator"})
    x.refresh_from_db()
    assert x.status == "answered"
    q.close_query(x, actor=MONITOR, roles={"data_manager"}, expected_version=x.version)
    x.refresh_from_db()
    assert (x.status, x.closed_by) == ("closed", "a monitor")
    thread = list(x.messages.order_by("position").values_list("author", "action", "text"))
    assert thread == [
        ("a monitor", "open", "Grade 1 or 2?"),
        ("a coordinator", "answer", "Grade 2, corrected."),
        ("a monitor", "close", "Closed."),
    ]
    tables = set(m.AuditEntry.objects.filter(seq__gt=before).values_list("table", flat=True))
    assert tables == {"monitoring_query", "monitoring_querymessage"}
    closing = m.AuditEntry.objects.filter(table="monitoring_query", action="update").last()
    assert closing is not None and closing.actor == "a monitor" and '"closed"' in closing.changes


def test_a_reply_sends_the_query_back_to_the_site_and_a_closed_one_is_reopened(
    world: World,
) -> None:
    x = q.open_query(_ae(world), text="Start date?", actor=MONITOR, roles={"monitor"})
    q.answer_query(x, text="As recorded.", actor=SITE_TEAM, roles={"investigator"})
    q.reply_to_query(x, text="The source says a day later.", actor=MONITOR, roles={"monitor"})
    x.refresh_from_db()
    assert x.status == "new"
    q.close_query(x, actor=MONITOR, roles={"monitor"}, text="Accepted.")
    with pytest.raises(q.QueryTextError, match="needs a message"):
        q.reopen_query(x, text="  ", actor=MONITOR, roles={"monitor"})
    q.reopen_query(x, text="New source document.", actor=MONITOR, roles={"monitor"})
    x.refresh_from_db()
    assert (x.status, x.closed_by) == ("new", "")
    assert x.messages.count() == 5


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        ("open", {"monitor", "data_manager"}),
        ("answer", {"investigator", "coordinator"}),
        ("reply", {"monitor", "data_manager"}),
        ("close", {"monitor", "data_manager"}),
        ("reopen", {"monitor", "data_manager"}),
    ],
)
def test_who_may_do_what(action: str, allowed: set[str]) -> None:
    for role in m.Role.values:
        assert q.may(action, {role}) == (role in allowed), role
    assert not q.may("read", {"statistician"}) and not q.may("read", {"administrator"})


def test_the_wrong_role_is_refused_and_nothing_is_written(world: World) -> None:
    x = q.open_query(_ae(world), text="Why?", actor=MONITOR, roles={"monitor"})
    before = m.AuditEntry.objects.count()
    with pytest.raises(q.QueryPermissionError, match="monitor"):
        q.open_query(_ae(world), text="Why?", actor=SITE_TEAM, roles={"coordinator"})
    with pytest.raises(q.QueryPermissionError, match="coordinator"):
        q.answer_query(x, text="Because.", actor=MONITOR, roles={"monitor"})
    with pytest.raises(q.QueryPermissionError):
        q.close_query(x, actor=SITE_TEAM, roles={"investigator", "coordinator"})
    assert m.AuditEntry.objects.count() == before


def test_statuses_move_only_along_their_paths(world: World) -> None:
    x = q.open_query(_ae(world), text="Why?", actor=MONITOR, roles={"monitor"})
    with pytest.raises(q.QueryStateError, match="is new: it cannot be re-opened"):
        q.reopen_query(x, text="again", actor=MONITOR, roles={"monitor"})
    q.close_query(x, actor=MONITOR, roles={"monitor"})
    with pytest.raises(q.QueryStateError, match="closed: it cannot be answered"):
        q.answer_query(x, text="late", actor=SITE_TEAM, roles={"coordinator"})
    with pytest.raises(q.QueryStateError, match="closed"):
        q.close_query(x, actor=MONITOR, roles={"monitor"})


def test_a_stale_version_is_refused(world: World) -> None:
    x = q.open_query(_ae(world), text="Why?", actor=MONITOR, roles={"monitor"})
    q.answer_query(x, text="Because.", actor=SITE_TEAM, roles={"coordinator"}, expected_version=1)
    with pytest.raises(StaleRecordError, match="version"):
        q.close_query(x, actor=MONITOR, roles={"monitor"}, expected_version=1)


def test_queries_and_messages_are_never_deleted(world: World) -> None:
    x = q.open_query(_ae(world), text="Why?", actor=MONITOR, roles={"monitor"})
    with pytest.raises(PermissionError, match="never deleted"):
        x.delete()
    with pytest.raises(PermissionError, match="never deleted"):
        Query.objects.all().delete()
    with pytest.raises(PermissionError, match="never deleted"):
        QueryMessage.objects.filter(query=x).delete()
    assert Query.objects.count() == 1 and QueryMessage.objects.count() == 1


def test_a_query_survives_the_deletion_of_its_record(world: World) -> None:
    row = record(world.p1, adverse_event(-1, term="Fatigue"))
    x = q.open_query(row, text="Duplicate?", actor=MONITOR, roles={"monitor"})
    from rfatrial.server.study.services import delete_event

    delete_event(
        world.p1, row.seq, expected_version=row.version, actor=SITE_TEAM, reason="duplicate"
    )
    x.refresh_from_db()
    assert x.status == "new" and x.record_id == row.pk
