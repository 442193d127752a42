from __future__ import annotations

from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "rfatrial.server.planning"
    label = "planning"
    verbose_name = "Session planning"
    default_auto_field = "django.db.models.BigAutoField"
