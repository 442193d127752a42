"""The monitoring tables: data queries and their messages, signatures, record locks.

Each derives from :class:`~rfatrial.server.study.models.StudyRecord` and is written only through
the audit trail. Queries, their messages and signatures are never deleted (:class:`NeverDeleted`):
a query is closed, a signature voided, and both stay as evidence.

A record is referred to by its table (``record_model``, e.g. ``study.labpanel``), its id and its
kind (``lab_panel``); a query may name one field of it (``results.alt``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models

from rfatrial.server.study.models import Patient, StudyRecord


class NeverDeletedQuerySet(models.QuerySet):
    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("queries, their messages and signatures are never deleted")


class NeverDeleted(StudyRecord):
    objects = NeverDeletedQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("queries, their messages and signatures are never deleted")


class QueryStatus(models.TextChoices):
    NEW = "new"
    ANSWERED = "answered"
    CLOSED = "closed"


class RecordRef(NeverDeleted):
    """The record a row refers to (and the patient whose record it is)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    record_kind = models.CharField(max_length=32)
    record_model = models.CharField(max_length=64)
    record_id = models.BigIntegerField()

    class Meta:
        abstract = True


class Query(RecordRef):
    """A question about a record or one field of it, answered by the site."""

    field = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=QueryStatus.choices, default=QueryStatus.NEW)
    subject = models.CharField(max_length=300)
    automatic = models.BooleanField(default=False)
    check_id = models.CharField(max_length=64, blank=True, default="")
    key = models.CharField(
        max_length=200, blank=True, default="", help_text="An automatic query's finding."
    )
    opened_by = models.CharField(max_length=150)
    opened_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    closed_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["patient", "status"], name="query_patient_status_idx"),
            models.Index(fields=["record_model", "record_id"], name="query_record_idx"),
            models.Index(fields=["key"], name="query_key_idx"),
        ]


class QueryMessage(NeverDeleted):
    """One message of a query's thread; ``action`` is what it did to the query."""

    query = models.ForeignKey(Query, on_delete=models.PROTECT, related_name="messages")
    position = models.PositiveIntegerField()
    author = models.CharField(max_length=150)
    action = models.CharField(max_length=16)
    text = models.TextField()
    at = models.DateTimeField()

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["query", "position"], name="query_message_position")
        ]


class Signature(RecordRef):
    """The investigator's signature of one version of a record; voided by a later change."""

    record_version = models.PositiveIntegerField()
    signer = models.CharField(max_length=150)
    signer_name = models.CharField(max_length=300, blank=True, default="")
    meaning = models.TextField()
    signed_at = models.DateTimeField()
    casebook = models.BooleanField(default=False)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.CharField(max_length=150, blank=True, default="")
    void_reason = models.TextField(blank=True, default="")

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["record_model", "record_id"], name="signature_record_idx"),
        ]


class RecordLock(StudyRecord):
    """Whether a record is locked against change; the data manager locks and unlocks it."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    record_kind = models.CharField(max_length=32)
    record_model = models.CharField(max_length=64)
    record_id = models.BigIntegerField()
    locked = models.BooleanField(default=True)
    changed_by = models.CharField(max_length=150)
    changed_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["record_model", "record_id"], name="record_lock_once")
        ]
