"""The study database and service: a Django project around the pure kernel.

The kernel (``rfatrial.kernel``) knows the protocol and the patient's history; this package stores
histories as normalized clinical records, keeps an append-only, hash-chained audit trail of every
change, and re-evaluates the patient with the kernel at every write (``study.services``).

Django is configured by :func:`setup` (settings module ``rfatrial.server.settings``); nothing here
imports Django at package import time, so the kernel and the command line stay light.
"""

from __future__ import annotations

import os

__all__ = ["SETTINGS_MODULE", "setup"]

SETTINGS_MODULE = "rfatrial.server.settings"


def setup() -> None:
    """Configure Django with the study settings (idempotent)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
