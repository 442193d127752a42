"""The patient page's summary of the session plans (``{% session_plans patient %}``)."""

from __future__ import annotations

from typing import Any

from django import template

from rfatrial.server.planning.services import plans_of
from rfatrial.server.study import models as m

register = template.Library()


def session_plans(context: Any, patient: m.Patient) -> dict[str, Any]:
    """The patient's latest plans, each with its difference from the session done, and the
    link to the planner for those who plan."""
    from rfatrial.server.web.planner import can_plan

    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "patient": patient,
        "plans": plans_of(patient)[:5],
        "can_plan": user is not None and can_plan(user, patient.site.code),
    }


register.inclusion_tag("web/planner_summary.html", takes_context=True)(session_plans)
