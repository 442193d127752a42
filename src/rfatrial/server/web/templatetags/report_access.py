"""``{% load report_access %}``: whether the signed-in user opens the study report (nav link)."""

from __future__ import annotations

from typing import Any

from django import template

from rfatrial.server.web.access import user_roles
from rfatrial.server.web.report_view import REPORT_ROLES

register = template.Library()


def can_open_report(user: Any) -> bool:
    """True when the user holds a report role (statistician, administrator, data manager)."""
    return bool(user.is_authenticated) and any(
        roles & REPORT_ROLES for roles in user_roles(user).values()
    )


register.filter("can_open_report", can_open_report)
