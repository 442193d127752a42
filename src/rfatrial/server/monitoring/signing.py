"""Electronic signatures and record locks (21 CFR Part 11 style).

The investigator of the patient's site signs a record, or every record of the patient at once (the
casebook), by re-entering his password; the signature keeps its meaning, the signer, the time and
the version of the record it signs. Any later change of the record voids the signature, visibly
("signature voided by change on ...") and through the audit trail. A data manager locks a record:
a locked record refuses every change (:class:`RecordLockedError`) until he unlocks it.

The study's write services call :func:`check_unlocked` before a change and
:func:`void_signatures` after it, in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from rfatrial.server.monitoring.models import RecordLock, Signature
from rfatrial.server.monitoring.records import KIND_OF_LABEL, model_label, patient_records
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, Audit, audited
from rfatrial.server.web import throttle

__all__ = [
    "LOCK_ROLES",
    "SIGNATURE_MEANING",
    "SIGN_ROLES",
    "AlreadySignedError",
    "PasswordError",
    "RecordLockedError",
    "SigningPermissionError",
    "check_unlocked",
    "is_locked",
    "set_lock",
    "sign_casebook",
    "sign_record",
    "signature_of",
    "void_signatures",
]

SIGN_ROLES = frozenset({m.Role.INVESTIGATOR})
LOCK_ROLES = frozenset({m.Role.DATA_MANAGER})
SIGNATURE_MEANING = (
    "By signing, I, the investigator of this site, confirm that I have reviewed the data of this"
    " record and that it is complete and accurate. This electronic signature is the legally"
    " binding equivalent of my handwritten signature."
)


class SigningPermissionError(PermissionError):
    """The user's roles at the patient's site do not allow signing or locking."""


class PasswordError(PermissionError):
    """The password re-entered to sign is wrong (or too many attempts failed)."""


class AlreadySignedError(ValueError):
    """The record is signed already, at its current version."""


class RecordLockedError(Exception):
    """The record is locked by the data manager: it cannot change."""


def _signer(user: Any) -> str:
    return str(user.get_full_name() or user.get_username()) if user is not None else ""


def _check_password(user: Any, password: str, ip: str) -> None:
    # Signing is throttled like signing in: guessing the password here gains nothing either.
    name = f"signature:{user.get_username()}"
    wait = throttle.locked_for(name, ip)
    if wait:
        raise PasswordError(
            f"password: too many wrong passwords; try again in {max(1, round(wait / 60))} minute(s)"
        )
    if not user.check_password(password or ""):
        throttle.record_failure(name, ip)
        raise PasswordError("password: the password is wrong; the record was not signed")
    throttle.clear(name, ip)


def _require(roles: Iterable[str], allowed: frozenset[str], what: str) -> None:
    if not set(roles) & allowed:
        raise SigningPermissionError(
            f"{what} needs one of these roles: {', '.join(sorted(allowed))}"
        )


def signature_of(record: m.StudyRecord) -> Signature | None:
    """The record's last signature (valid or voided), if it was ever signed."""
    return (
        Signature.objects.filter(record_model=model_label(record), record_id=record.pk)
        .order_by("-signed_at", "-pk")
        .first()
    )


def is_locked(record: m.StudyRecord) -> bool:
    return RecordLock.objects.filter(
        record_model=model_label(record), record_id=record.pk, locked=True
    ).exists()


def check_unlocked(record: m.StudyRecord) -> None:
    """Raise :class:`RecordLockedError` when the record is locked."""
    lock = RecordLock.objects.filter(
        record_model=model_label(record), record_id=record.pk, locked=True
    ).first()
    if lock is not None:
        kind = KIND_OF_LABEL.get(model_label(record), model_label(record))
        raise RecordLockedError(
            f"this {kind.replace('_', ' ')} record is locked (by {lock.changed_by} on"
            f" {lock.changed_at:%Y-%m-%d}): ask the data manager to unlock it before changing it"
        )


def _create_signature(
    audit: Audit, record: m.StudyRecord, user: Any, now: datetime, casebook: bool
) -> Signature:
    label = model_label(record)
    return audit.create(
        Signature,
        patient_id=record.patient_id,
        record_kind=KIND_OF_LABEL[label],
        record_model=label,
        record_id=record.pk,
        record_version=record.version,
        signer=user.get_username(),
        signer_name=_signer(user),
        meaning=SIGNATURE_MEANING,
        signed_at=now,
        casebook=casebook,
    )


def _signed_now(record: m.StudyRecord) -> bool:
    last = signature_of(record)
    return last is not None and last.voided_at is None and last.record_version == record.version


def sign_record(
    record: m.StudyRecord, *, user: Any, password: str, actor: Actor, roles: Iterable[str]
) -> Signature:
    """The investigator signs one record (password re-entered)."""
    _require(roles, SIGN_ROLES, "signing")
    _check_password(user, password, actor.ip)
    with audited(actor, "record signed") as audit:
        record = type(record)._default_manager.select_for_update().get(pk=record.pk)
        if _signed_now(record):
            raise AlreadySignedError("this record is signed already (at its current version)")
        return _create_signature(audit, record, user, timezone.now(), casebook=False)


def sign_casebook(
    patient: m.Patient, *, user: Any, password: str, actor: Actor, roles: Iterable[str]
) -> list[Signature]:
    """The investigator signs every record of the patient not signed yet (the casebook)."""
    _require(roles, SIGN_ROLES, "signing")
    _check_password(user, password, actor.ip)
    now = timezone.now()
    with audited(actor, "casebook signed") as audit:
        m.Patient.objects.select_for_update().get(pk=patient.pk)
        return [
            _create_signature(audit, r.row, user, now, casebook=True)
            for r in patient_records(patient)
            if not _signed_now(r.row)
        ]


def void_signatures(
    audit: Audit, record: m.StudyRecord, *, reason: str, deleted: bool = False
) -> int:
    """Void the record's valid signatures after a change (in the change's transaction)."""
    now = timezone.now()
    what = "deletion" if deleted else "change"
    count = 0
    for sig in Signature.objects.filter(
        record_model=model_label(record), record_id=record.pk, voided_at__isnull=True
    ):
        audit.update(
            sig,
            reason=f"signature voided: {reason}",
            voided_at=now,
            voided_by=audit.actor.name,
            void_reason=(
                f"signature voided by {what} on {now:%Y-%m-%d %H:%M} UTC by {audit.actor.name}:"
                f" {reason}"
            ),
        )
        count += 1
    return count


def set_lock(
    record: m.StudyRecord,
    *,
    locked: bool,
    actor: Actor,
    roles: Iterable[str],
    reason: str = "",
) -> RecordLock:
    """The data manager locks (or unlocks) a record; idempotent."""
    _require(roles, LOCK_ROLES, "locking or unlocking a record")
    label = model_label(record)
    default = "record locked" if locked else "record unlocked"
    with audited(actor, reason.strip() or default) as audit:
        lock = (
            RecordLock.objects.select_for_update()
            .filter(record_model=label, record_id=record.pk)
            .first()
        )
        now = timezone.now()
        if lock is None:
            return audit.create(
                RecordLock,
                patient_id=record.patient_id,
                record_kind=KIND_OF_LABEL[label],
                record_model=label,
                record_id=record.pk,
                locked=locked,
                changed_by=actor.name,
                changed_at=now,
            )
        if lock.locked != locked:
            audit.update(lock, locked=locked, changed_by=actor.name, changed_at=now)
        return lock
