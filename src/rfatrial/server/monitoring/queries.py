"""Data queries: a monitor or a data manager asks about a record (or one field of it), the site's
investigators and coordinators answer, the monitor closes, or re-opens with a message.

Statuses: ``new`` (waiting for the site) → ``answered`` → ``closed``; a monitor's reply to an
answer puts the query back to ``new``; a closed query is re-opened (``new``) with a message. Who
may do what is :data:`QUERY_ROLES` (roles at the patient's site). Queries and their messages are
never deleted; every change goes through the audit trail with the version read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from rfatrial.server.monitoring.models import Query, QueryMessage, QueryStatus
from rfatrial.server.monitoring.records import KIND_OF_LABEL, model_label
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, Audit, audited

__all__ = [
    "QUERY_ROLES",
    "QueryPermissionError",
    "QueryStateError",
    "QueryTextError",
    "answer_query",
    "close_query",
    "may",
    "open_query",
    "reopen_query",
    "reply_to_query",
]

R = m.Role
MONITORS = frozenset({R.MONITOR, R.DATA_MANAGER})
SITE_TEAM = frozenset({R.INVESTIGATOR, R.COORDINATOR})
QUERY_ROLES: dict[str, frozenset[str]] = {
    "read": MONITORS | SITE_TEAM,
    "open": MONITORS,
    "answer": SITE_TEAM,
    "reply": MONITORS,
    "close": MONITORS,
    "reopen": MONITORS,
}
SYSTEM_AUTHOR = "edit check"


class QueryPermissionError(PermissionError):
    """The user's roles at the patient's site do not allow this."""


class QueryStateError(ValueError):
    """The query's status does not allow this (e.g. answering a closed query)."""


class QueryTextError(ValueError):
    """A message is required and was empty."""


def may(action: str, roles: Iterable[str]) -> bool:
    """Whether someone holding ``roles`` at the patient's site may ``action`` a query."""
    return bool(QUERY_ROLES[action] & set(roles))


def _require(action: str, roles: Iterable[str]) -> None:
    if not may(action, roles):
        names = ", ".join(sorted(QUERY_ROLES[action]))
        raise QueryPermissionError(f"to {action} a query needs one of these roles: {names}")


def _text(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise QueryTextError(f"text: {what} needs a message")
    if len(text) > 5000:
        raise QueryTextError("text: at most 5000 characters")
    return text


def add_message(audit: Audit, query: Query, author: str, action: str, text: str) -> QueryMessage:
    """Append one message to the query's thread (audited)."""
    position = QueryMessage.objects.filter(query=query).count()
    return audit.create(
        QueryMessage,
        query=query,
        position=position,
        author=author,
        action=action,
        text=text,
        at=timezone.now(),
    )


def create_query(
    audit: Audit,
    record: m.StudyRecord,
    *,
    subject: str,
    text: str,
    author: str,
    field: str = "",
    automatic: bool = False,
    check_id: str = "",
    key: str = "",
) -> Query:
    """Open a query on ``record`` inside ``audit`` (no role check: see :func:`open_query`)."""
    now = timezone.now()
    label = model_label(record)
    query = audit.create(
        Query,
        patient_id=record.patient_id,
        record_kind=KIND_OF_LABEL[label],
        record_model=label,
        record_id=record.pk,
        field=field,
        status=QueryStatus.NEW,
        subject=subject[:300],
        automatic=automatic,
        check_id=check_id,
        key=key,
        opened_by=author,
        opened_at=now,
        updated_at=now,
    )
    add_message(audit, query, author, "open", text)
    return query


def open_query(
    record: m.StudyRecord,
    *,
    text: str,
    actor: Actor,
    roles: Iterable[str],
    field: str = "",
) -> Query:
    """A monitor or a data manager asks about ``record`` (or its ``field``)."""
    _require("open", roles)
    text = _text(text, "a query")
    if len(field) > 64:
        raise QueryTextError("field: at most 64 characters")
    with audited(actor, "query opened") as audit:
        first_line = text.splitlines()[0]
        return create_query(
            audit, record, subject=first_line, text=text, author=actor.name, field=field.strip()
        )


@dataclass(frozen=True, slots=True)
class _Step:
    action: str
    allowed_from: frozenset[str]
    to: str
    needs_text: bool = True


_STEPS = {
    "answer": _Step("answer", frozenset({QueryStatus.NEW, QueryStatus.ANSWERED}), "answered"),
    "reply": _Step("reply", frozenset({QueryStatus.NEW, QueryStatus.ANSWERED}), "new"),
    "close": _Step(
        "close", frozenset({QueryStatus.NEW, QueryStatus.ANSWERED}), "closed", needs_text=False
    ),
    "reopen": _Step("reopen", frozenset({QueryStatus.CLOSED}), "new"),
}


_DONE = {"answer": "answered", "reply": "replied to", "close": "closed", "reopen": "re-opened"}


def _step(
    query: Query,
    step: _Step,
    *,
    text: str,
    actor: Actor,
    roles: Iterable[str],
    expected_version: int | None,
) -> Query:
    _require(step.action, roles)
    if step.needs_text:
        text = _text(text, f"to {step.action}")
    else:
        text = (text or "").strip() or "Closed."
    with audited(actor, f"query {step.action}") as audit:
        current = Query.objects.select_for_update().get(pk=query.pk)
        version = current.version if expected_version is None else expected_version
        audit.check_version(current, version)
        if current.status not in step.allowed_from:
            raise QueryStateError(
                f"the query is {current.status}: it cannot be {_DONE[step.action]} now"
            )
        audit.update(
            current,
            expected_version=version,
            status=step.to,
            updated_at=timezone.now(),
            closed_by=actor.name if step.to == QueryStatus.CLOSED else "",
        )
        add_message(audit, current, actor.name, step.action, text)
    return current


def answer_query(
    query: Query,
    *,
    text: str,
    actor: Actor,
    roles: Iterable[str],
    expected_version: int | None = None,
) -> Query:
    """The site answers (new or answered → answered)."""
    return _step(
        query,
        _STEPS["answer"],
        text=text,
        actor=actor,
        roles=roles,
        expected_version=expected_version,
    )


def reply_to_query(
    query: Query,
    *,
    text: str,
    actor: Actor,
    roles: Iterable[str],
    expected_version: int | None = None,
) -> Query:
    """The monitor asks again (→ new: the site is to answer)."""
    return _step(
        query,
        _STEPS["reply"],
        text=text,
        actor=actor,
        roles=roles,
        expected_version=expected_version,
    )


def close_query(
    query: Query,
    *,
    actor: Actor,
    roles: Iterable[str],
    text: str = "",
    expected_version: int | None = None,
) -> Query:
    """The monitor closes the query (new or answered → closed)."""
    return _step(
        query,
        _STEPS["close"],
        text=text,
        actor=actor,
        roles=roles,
        expected_version=expected_version,
    )


def reopen_query(
    query: Query,
    *,
    text: str,
    actor: Actor,
    roles: Iterable[str],
    expected_version: int | None = None,
) -> Query:
    """The monitor re-opens a closed query with a message (closed → new)."""
    return _step(
        query,
        _STEPS["reopen"],
        text=text,
        actor=actor,
        roles=roles,
        expected_version=expected_version,
    )
