from __future__ import annotations

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "rfatrial.server.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The edit checks are data: a bad file stops the server at start-up, not at a write.
        from rfatrial.server.monitoring.edit_checks import edit_checks

        edit_checks()
