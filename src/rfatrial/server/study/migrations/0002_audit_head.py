"""The audit chain starts at the genesis hash (one head row, locked by every append)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

GENESIS = "0" * 64


def create_head(apps: Any, schema_editor: Any) -> None:
    head = apps.get_model("study", "AuditHead")
    head.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS})


class Migration(migrations.Migration):
    dependencies = [("study", "0001_initial")]
    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
