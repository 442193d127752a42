"""The language a user chose for the interface (not study data: not audited)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class LanguagePreference(models.Model):
    """One row per user who chose a language; without a row the browser's language is used."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="language_preference"
    )
    language = models.CharField(max_length=16)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language}"
