from __future__ import annotations

from django.apps import AppConfig


class StudyConfig(AppConfig):
    name = "rfatrial.server.study"
    label = "study"
    verbose_name = "Study"
    default_auto_field = "django.db.models.BigAutoField"
