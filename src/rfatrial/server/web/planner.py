"""The ablation batch planner page: every remaining lesion judged, the proposal, the investigator's
choice with its reasons, checked live by the server and confirmed only when it keeps the rules.

Investigators and coordinators of the patient's site plan (a coordinator drafts, an investigator
confirms); anyone else of the site gets 403, and a patient of another site does not exist (404).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from rfatrial.kernel.batch_planner import PlanCheck
from rfatrial.kernel.protocol import default_protocol
from rfatrial.server.planning.models import SessionPlan
from rfatrial.server.planning.services import (
    PlanError,
    PlanRefusedError,
    cancel_plan,
    check_patient_plan,
    open_plan,
    overview,
    plans_of,
    save_plan,
)
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import StaleRecordError
from rfatrial.server.web.access import actor_of, patient_or_404, post_only, signed_in, user_roles
from rfatrial.server.web.dates import format_for_request
from rfatrial.server.web.engine_texts import note_text

__all__ = ["PLANNERS", "can_confirm", "can_plan", "planner_check", "planner_page"]

PLANNERS = frozenset({m.Role.INVESTIGATOR, m.Role.COORDINATOR})


def can_plan(user: Any, site_code: str) -> bool:
    """Whether the user drafts session plans at the site (investigators and coordinators)."""
    return bool(user_roles(user).get(site_code, set()) & PLANNERS)


def can_confirm(user: Any, site_code: str) -> bool:
    """Whether the user confirms session plans at the site (investigators)."""
    return m.Role.INVESTIGATOR in user_roles(user).get(site_code, set())


def _planner_patient(request: HttpRequest, pk: int) -> m.Patient:
    patient = patient_or_404(request, pk)
    if not can_plan(request.user, patient.site.code):
        raise PermissionDenied(_("Only the site's investigators and coordinators plan sessions."))
    return patient


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _version(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _findings(check: PlanCheck, reasons: str = "", date_format: str = "iso") -> dict[str, Any]:
    """The check as the page (and its live validation) shows it, in the user's language."""
    blocking = {id(f) for f in check.blocking(reasons)}
    return {
        "findings": [
            {
                "code": f.code,
                "severity": f.severity,
                "message": note_text(f.note, date_format),
                "source": f.source,
                "lesion_id": f.lesion_id,
                "blocking": id(f) in blocking,
            }
            for f in check.findings
        ],
        "added": list(check.added),
        "removed": list(check.removed),
        "refused": bool(check.refusals),
        "needs_reason": bool(check.reasons_required),
        "confirmable": not blocking,
    }


def _default_date(patient: m.Patient, today: date) -> date:
    action = patient.next_actions.filter(kind="rfa_session").order_by("position").first()
    return max(action.target, today) if action is not None else today


@signed_in
def planner_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The planner: GET shows the proposal and the open plan; POST saves, confirms or cancels."""
    patient = _planner_patient(request, pk)
    today = date.today()
    plan = open_plan(patient)
    code = format_for_request(request, patient.site.code)
    refusal: list[dict[str, Any]] = []
    error = ""
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "draft")
        lesions = request.POST.getlist("lesion")
        planned = _day(request.POST.get("planned_date"))
        reasons = request.POST.get("reasons", "")
        version = _version(request.POST.get("version"))
        try:
            if action == "cancel":
                if plan is None:
                    raise PlanError("plan", _("there is no open plan to cancel"))
                cancel_plan(
                    plan,
                    expected_version=version or 0,
                    actor=actor_of(request),
                    reason=request.POST.get("cancel_reason", ""),
                )
                messages.success(request, _("The plan is cancelled."))
                return redirect("web:planner", pk=patient.pk)
            confirm = action == "confirm"
            if confirm and not can_confirm(request.user, patient.site.code):
                raise PermissionDenied(_("Only an investigator of the site confirms a plan."))
            plan, _check = save_plan(
                patient,
                lesions=lesions,
                planned_date=planned,
                reasons=reasons,
                actor=actor_of(request),
                expected_version=version,
                confirm=confirm,
                today=today,
            )
            if confirm:
                messages.success(
                    request,
                    _("The plan of session %(session)s is confirmed.") % {"session": plan.session},
                )
                return redirect("web:patient", pk=patient.pk)
            messages.success(request, _("The draft is saved."))
            return redirect("web:planner", pk=patient.pk)
        except PlanRefusedError as exc:
            refusal = [
                {
                    "code": f.code,
                    "severity": f.severity,
                    "message": note_text(f.note, code),
                    "source": f.source,
                }
                for f in exc.findings
            ]
            status = 422
        except PlanError as exc:
            error = str(exc)
            status = 422
        except StaleRecordError as exc:
            error = str(exc)
            status = 409
            plan = open_plan(patient)
        chosen, planned_date = lesions, planned
    else:
        reasons = plan.reasons if plan else ""
        chosen = list(plan.lesions) if plan else []
        planned_date = plan.planned_date if plan else None
    seen = overview(patient, today=today)
    if request.method == "GET" and plan is None:
        chosen = list(seen.proposal.next_session)
        planned_date = _default_date(patient, today)
    check = check_patient_plan(patient, lesions=chosen, planned_date=planned_date, today=today)
    rfa = default_protocol().rfa
    proposal = seen.proposal
    return render(
        request,
        "web/planner.html",
        {
            "patient": patient,
            "session": seen.session,
            "max_sessions": rfa.max_sessions,
            "min_lesions": rfa.min_lesions_per_session,
            "max_lesions": rfa.max_lesions_per_session,
            "lesions": [
                x
                | {
                    "reasons": [note_text(n, code) for n in x["reason_notes"]],
                    "warnings": [note_text(n, code) for n in x["warning_notes"]],
                }
                for x in seen.lesions
            ],
            "proposal": proposal,
            "split": [
                {"number": seen.session + i, "lesions": s} for i, s in enumerate(proposal.sessions)
            ],
            "chosen": chosen,
            "planned_date": planned_date.isoformat() if planned_date else "",
            "reasons": reasons,
            "plan": plan,
            "plans": [p for p in plans_of(patient) if p.pk != (plan.pk if plan else None)][:5],
            "check": _findings(check, reasons, code),
            "refusal": refusal,
            "error": error,
            "can_confirm": can_confirm(request.user, patient.site.code),
            "today": today.isoformat(),
        },
        status=status,
    )


@signed_in
@post_only
def planner_check(request: HttpRequest, pk: int) -> JsonResponse:
    """Live validation: the server's judgement of the choice being edited (nothing is stored)."""
    patient = _planner_patient(request, pk)
    try:
        check = check_patient_plan(
            patient,
            lesions=request.POST.getlist("lesion"),
            planned_date=_day(request.POST.get("planned_date")),
        )
    except PlanError as exc:
        return JsonResponse({"error": str(exc)}, status=422)
    code = format_for_request(request, patient.site.code)
    return JsonResponse(_findings(check, request.POST.get("reasons", ""), code))


def plan_summary(plan: SessionPlan) -> dict[str, Any]:
    """A plan as the patient page lists it, with its difference from the session done."""
    return {
        "plan": plan,
        "differs": plan.differs,
        "not_done": plan.not_done,
        "not_planned": plan.not_planned,
    }
