"""The audit trail: every create, update and delete of study data, append-only and hash-chained.

All writes of study data go through an :class:`Audit` opened with :func:`audited` (one database
transaction): ``audit.create(Model, ...)``, ``audit.update(obj, ...)``, ``audit.delete(obj, ...)``.
Each logs who, when, from where, the table, the record, each field's old and new value and the
reason, as an :class:`~rfatrial.server.study.models.AuditEntry` whose hash covers the entry and the
previous entry's hash. Updates and deletes are optimistic: they name the version they change, and a
stale version raises :class:`StaleRecordError` instead of losing someone else's change.

:func:`verify_audit_trail` re-reads everything: it recomputes the chain (a changed or removed entry
breaks it) and replays the entries table by table, so that a study record changed, removed or added
behind the application's back (raw SQL) is reported too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.apps import apps
from django.db import models, transaction
from django.utils import timezone

from rfatrial.server.study.models import AuditEntry, AuditHead, StudyRecord

__all__ = [
    "GENESIS",
    "Actor",
    "Audit",
    "AuditReport",
    "ReasonRequiredError",
    "StaleRecordError",
    "audited",
    "audited_models",
    "entry_hash",
    "snapshot",
    "verify_audit_trail",
]

GENESIS = "0" * 64
M = TypeVar("M", bound=StudyRecord)


class StaleRecordError(Exception):
    """An update or delete of a record that someone else changed since it was read."""


class ReasonRequiredError(ValueError):
    """An update or delete of study data without a reason."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who writes, and from where (the client's IP address, when there is a client)."""

    name: str
    ip: str = ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _canonical(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The record's fields as JSON values (foreign keys by id), as the audit trail stores them."""
    return {f.attname: _jsonable(getattr(obj, f.attname)) for f in _fields(type(obj))}


def entry_hash(
    *,
    prev_hash: str,
    seq: int,
    at: dt.datetime,
    actor: str,
    ip: str,
    action: str,
    table: str,
    record_id: int,
    reason: str,
    changes: str,
) -> str:
    """SHA-256 of one entry and the previous entry's hash."""
    text = _canonical(
        [prev_hash, seq, _jsonable(at), actor, ip, action, table, record_id, reason, changes]
    )
    return hashlib.sha256(text.encode()).hexdigest()


class Audit:
    """The writer of study data inside one transaction (see :func:`audited`)."""

    def __init__(self, actor: Actor, reason: str, head: AuditHead) -> None:
        self.actor = actor
        self.reason = reason
        self._head = head
        self._pending: list[AuditEntry] = []

    def create(self, model: type[M], /, **values: Any) -> M:
        """Insert a record and log every field of it."""
        obj = model(**values)
        obj.save(force_insert=True)
        self._log("create", obj, {k: [None, v] for k, v in snapshot(obj).items()}, self.reason)
        return obj

    def create_many(self, model: type[M], rows: list[dict[str, Any]], /) -> list[M]:
        """Insert several records of one table at once (one statement) and log each."""
        if not rows:
            return []
        objs = model._default_manager.bulk_create([model(**values) for values in rows])
        for obj in objs:
            if obj.pk is None:  # a database that cannot return the ids of a bulk insert
                raise RuntimeError(f"{model._meta.db_table}: bulk insert returned no ids")
            self._log("create", obj, {k: [None, v] for k, v in snapshot(obj).items()}, self.reason)
        return objs

    def update(
        self,
        obj: StudyRecord,
        /,
        *,
        reason: str | None = None,
        expected_version: int | None = None,
        **values: Any,
    ) -> bool:
        """Change fields of ``obj``; False when nothing changed.

        ``expected_version`` (default: the version ``obj`` was read at) must still be the stored
        version, otherwise :class:`StaleRecordError`.
        """
        reason = self._reason(reason, "change", obj)
        if "version" in values:
            raise ValueError("the version moves on by itself (use touch)")
        model = type(obj)
        version = obj.version if expected_version is None else expected_version
        if version != obj.version:
            raise self._stale(obj, version)
        before = snapshot(obj)
        for name, value in values.items():
            setattr(obj, name, value)
        after = snapshot(obj)
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if not changes:
            return False
        stored = {
            f.attname: getattr(obj, f.attname) for f in _fields(model) if f.attname in changes
        }
        self._bump(obj, version, stored, changes, reason)
        return True

    def touch(
        self, obj: StudyRecord, /, *, reason: str | None = None, expected_version: int | None = None
    ) -> None:
        """Move the version of ``obj`` on (a change of its child rows is a change of it)."""
        reason = self._reason(reason, "change", obj)
        version = obj.version if expected_version is None else expected_version
        if version != obj.version:
            raise self._stale(obj, version)
        self._bump(obj, version, {}, {}, reason)

    def check_version(self, obj: StudyRecord, expected_version: int) -> None:
        """Raise :class:`StaleRecordError` unless ``obj`` is at ``expected_version``."""
        if obj.version != expected_version:
            raise self._stale(obj, expected_version)

    def _bump(
        self,
        obj: StudyRecord,
        version: int,
        stored: dict[str, Any],
        changes: dict[str, Any],
        reason: str,
    ) -> None:
        updated = (
            type(obj)
            ._default_manager.filter(pk=obj.pk, version=version)
            .update(**stored, version=version + 1)
        )
        if updated != 1:
            raise self._stale(obj, version)
        obj.version = version + 1
        changes["version"] = [version, version + 1]
        self._log("update", obj, changes, reason)

    def delete(
        self, obj: StudyRecord, /, *, reason: str | None = None, expected_version: int | None = None
    ) -> None:
        """Delete ``obj`` (at ``expected_version``) and log every field it had."""
        reason = self._reason(reason, "delete", obj)
        version = obj.version if expected_version is None else expected_version
        if version != obj.version:
            raise self._stale(obj, version)
        changes = {k: [v, None] for k, v in snapshot(obj).items()}
        pk = obj.pk
        deleted, _ = type(obj)._default_manager.filter(pk=pk, version=version).delete()
        if deleted != 1:
            raise self._stale(obj, version)
        obj.pk = pk
        self._log("delete", obj, changes, reason)

    def _reason(self, reason: str | None, verb: str, obj: models.Model) -> str:
        reason = (reason if reason is not None else self.reason).strip()
        if not reason:
            raise ReasonRequiredError(
                f"a reason is required to {verb} {obj._meta.db_table} record {obj.pk}"
            )
        return reason

    def _stale(self, obj: StudyRecord, version: int) -> StaleRecordError:
        table, model = obj._meta.db_table, type(obj)
        current = model._default_manager.filter(pk=obj.pk).values_list("version", flat=True).first()
        last = AuditEntry.objects.filter(table=table, record_id=obj.pk).order_by("-seq").first()
        who = f" by {last.actor} at {_jsonable(last.at)}" if last is not None else ""
        if current is None:
            return StaleRecordError(
                f"{table} record {obj.pk} was deleted{who}; your copy (version {version}) is stale"
            )
        return StaleRecordError(
            f"{table} record {obj.pk} was changed{who} (now version {current}, your copy is"
            f" version {version}): reload it and apply your change again"
        )

    def _log(self, action: str, obj: models.Model, changes: dict[str, Any], reason: str) -> None:
        head = self._head
        seq = head.seq + 1
        entry = AuditEntry(
            seq=seq,
            at=timezone.now(),
            actor=self.actor.name,
            ip=self.actor.ip,
            action=action,
            table=obj._meta.db_table,
            record_id=obj.pk,
            reason=reason,
            changes=_canonical(changes),
            prev_hash=head.hash,
        )
        entry.hash = entry_hash(
            prev_hash=entry.prev_hash,
            seq=seq,
            at=entry.at,
            actor=entry.actor,
            ip=entry.ip,
            action=action,
            table=entry.table,
            record_id=entry.record_id,
            reason=reason,
            changes=entry.changes,
        )
        head.seq, head.hash = seq, entry.hash
        self._pending.append(entry)

    def _flush(self) -> None:
        if self._pending:
            AuditEntry.objects.bulk_create(self._pending, batch_size=500)
            self._head.save(update_fields=["seq", "hash"])
            self._pending.clear()


@contextmanager
def audited(actor: Actor, reason: str = "") -> Iterator[Audit]:
    """One transaction of study writes and their audit entries (all or nothing).

    The chain head is locked for the transaction, so concurrent writers append one after the
    other; ``reason`` is the default reason of the writes (updates and deletes need one).
    """
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            head = AuditHead.objects.create(pk=1, seq=0, hash=GENESIS)
        audit = Audit(actor, reason, head)
        yield audit
        audit._flush()


def audited_models() -> list[type[StudyRecord]]:
    """Every concrete table of study data, of every app (plans, queries, site settings too)."""
    return [m for m in apps.get_models() if issubclass(m, StudyRecord) and not m._meta.abstract]


# --- verification -----------------------------------------------------------------------------


@dataclass(slots=True)
class AuditReport:
    """What :func:`verify_audit_trail` found: nothing (``ok``) or one line per problem."""

    entries: int = 0
    records: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_audit_trail() -> AuditReport:
    """Check the chain of entries and that the study data is what the entries say it is."""
    report = AuditReport()
    _verify_chain(report)
    for model in audited_models():
        _verify_table(model, report)
    return report


def _verify_chain(report: AuditReport) -> None:
    prev_hash, expected = GENESIS, 1
    for e in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        report.entries += 1
        if e.seq != expected:
            report.problems.append(_removed(expected, e.seq - 1))
        elif e.prev_hash != prev_hash:
            report.problems.append(f"audit entry {e.seq} does not follow entry {e.seq - 1}")
        computed = entry_hash(
            prev_hash=e.prev_hash,
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            ip=e.ip,
            action=e.action,
            table=e.table,
            record_id=e.record_id,
            reason=e.reason,
            changes=e.changes,
        )
        if computed != e.hash:
            report.problems.append(
                f"audit entry {e.seq} ({e.action} {e.table} record {e.record_id}) was changed"
            )
        prev_hash, expected = e.hash, e.seq + 1
    head = AuditHead.objects.filter(pk=1).first()
    last_seq = expected - 1
    if head is not None and (head.seq != last_seq or head.hash != prev_hash):
        if head.seq > last_seq:
            report.problems.append(_removed(last_seq + 1, head.seq))
        else:
            report.problems.append(f"audit chain head ({head.seq}) does not match entry {last_seq}")


def _removed(first: int, last: int) -> str:
    return (
        f"audit entry {first} removed"
        if first == last
        else f"audit entries {first} to {last} removed"
    )


def _verify_table(model: type[StudyRecord], report: AuditReport) -> None:
    table = model._meta.db_table
    state: dict[int, dict[str, Any]] = {}
    entries = AuditEntry.objects.filter(table=table).order_by("seq")
    for e in entries.only("seq", "action", "record_id", "changes").iterator(chunk_size=2000):
        try:
            changes = json.loads(e.changes)
        except ValueError:
            continue  # reported by the chain check
        if e.action == "create":
            state[e.record_id] = {k: v[1] for k, v in changes.items()}
        elif e.action == "update":
            state.setdefault(e.record_id, {}).update({k: v[1] for k, v in changes.items()})
        elif e.action == "delete":
            state.pop(e.record_id, None)
    for obj in model._default_manager.order_by("pk").iterator(chunk_size=2000):
        report.records += 1
        live = json.loads(_canonical(snapshot(obj)))
        logged = state.pop(obj.pk, None)
        if logged is None:
            report.problems.append(f"{table} record {obj.pk} is not in the audit trail")
            continue
        for name, value in live.items():
            if logged.get(name) != value:
                report.problems.append(
                    f"{table} record {obj.pk}: {name} is {value!r} in the database,"
                    f" {logged.get(name)!r} in the audit trail"
                )
    for pk in sorted(state):
        report.problems.append(f"{table} record {pk} was removed without an audit entry")
