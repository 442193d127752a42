"""Settings of the web application per site (kept apart from the study tables)."""

from __future__ import annotations

from django.db import models

from rfatrial.server.study.models import Site, StudyRecord

# code -> (what the user sees, strftime pattern, placeholder)
DATE_FORMATS: dict[str, tuple[str, str, str]] = {
    "iso": ("2026-11-27 (ISO 8601)", "%Y-%m-%d", "YYYY-MM-DD"),
    "dmy_slash": ("27/11/2026", "%d/%m/%Y", "DD/MM/YYYY"),
    "mdy_slash": ("11/27/2026", "%m/%d/%Y", "MM/DD/YYYY"),
    "dmy_dot": ("27.11.2026", "%d.%m.%Y", "DD.MM.YYYY"),
}


class SiteSettings(StudyRecord):
    """How one site's pages show and read dates. Versioned and audited like study data."""

    site = models.OneToOneField(Site, on_delete=models.PROTECT, related_name="web_settings")
    date_format = models.CharField(
        max_length=16,
        choices=[(code, label) for code, (label, _, _) in DATE_FORMATS.items()],
        default="iso",
    )

    def __str__(self) -> str:
        return f"{self.site.code}: {self.date_format}"
