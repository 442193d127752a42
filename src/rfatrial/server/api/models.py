"""The API's own tables: tokens for scripts, the study's randomization set-up and its lists.

A token is stored as its SHA-256 only (a token is 32 random bytes: a fast hash is enough, and
what leaks from the table cannot be used). :class:`StudySettings` is written once, when the study
opens: the seed, the method and the hash of the allocation lists. Each stratum's permuted-block
list is one :class:`RandomizationList` with its slots (:class:`AllocationSlot`); a slot is used by
at most one patient, in order (``next_slot``), under the list row's lock.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models

from rfatrial.server.study.models import Patient, StudyRecord


class ApiToken(models.Model):
    """A bearer token of one user for scripts; only its hash is kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to tell.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


class StudySettings(StudyRecord):
    """The study as opened (one row): randomization method, seed and the lists' SHA-256."""

    opened_at = models.DateTimeField()
    protocol_version = models.CharField(max_length=64)
    method = models.CharField(max_length=32)
    seed = models.BigIntegerField()
    slots_per_stratum = models.PositiveIntegerField()
    list_hash = models.CharField(max_length=64, blank=True, default="")


class RandomizationList(models.Model):
    """One stratum's permuted-block list; ``next_slot`` is the first slot not used yet."""

    key = models.CharField(max_length=255, unique=True)
    stratum = models.JSONField()
    length = models.PositiveIntegerField()
    list_hash = models.CharField(max_length=64)
    next_slot = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()


class AllocationSlot(models.Model):
    """One slot of a stratum's list, and the patient who was given it."""

    list = models.ForeignKey(RandomizationList, on_delete=models.PROTECT, related_name="slots")
    slot = models.PositiveIntegerField()
    block = models.PositiveIntegerField()
    block_size = models.PositiveSmallIntegerField()
    arm = models.CharField(max_length=16)
    patient = models.OneToOneField(
        Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="allocation"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["list", "slot"], name="allocation_slot_unique")
        ]
