"""The API of the ablation batch planner: the proposal for a patient's next RFA session, checking a
choice, drafting, confirming and cancelling the session plan.

Registered on the study's API by :func:`register`. Roles at the patient's site decide, as for
every endpoint (:mod:`.access`): the proposal and the plans are read by the site team and the
monitors (not by a statistician: a plan's reasons are free text); a plan is checked, drafted,
changed and cancelled by investigators and coordinators, and confirmed by an investigator only.
A confirmation that would break a rule is answered 422, one item per rule, each with its protocol
key and value (``rule``, ``source``); nothing is stored then.
"""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Router, Schema, Status
from pydantic import Field

from rfatrial.server.api import schemas as s
from rfatrial.server.api.access import (
    AUDIT,
    RANDOMIZE,
    WRITE,
    request_access,
    request_actor,
    study_today,
)
from rfatrial.server.planning.models import SessionPlan
from rfatrial.server.planning.services import (
    MAX_LESIONS_IN_A_CHOICE,
    PlanError,
    PlanRefusedError,
    cancel_plan,
    check_patient_plan,
    findings_json,
    open_plan,
    overview,
    plans_of,
    save_plan,
)

__all__ = ["register", "router"]

router = Router(tags=["planner"])
E = s.ErrorOut
PLAN_READ = AUDIT  # investigator, coordinator, monitor, data manager
PLAN_CONFIRM = RANDOMIZE  # investigator


# --- bodies -----------------------------------------------------------------------------------


class FindingOut(Schema):
    code: str
    severity: str
    message: str
    note: dict[str, Any] = Field(
        default_factory=dict,
        description="the message's id and parameters, to show it in another language",
    )
    rule: str
    source: str
    lesion_id: str | None = None


class RefusalItem(Schema):
    loc: list[str | int]
    msg: str
    type: str
    # A body that is not a plan at all (422 of the request's validation) names no rule.
    rule: str | None = None
    source: str | None = None


class RefusalOut(Schema):
    """422: one item per rule the plan breaks (or per field that is wrong)."""

    detail: list[RefusalItem]


class LesionOut(Schema):
    lesion_id: str
    verdict: str
    reasons: list[str]
    warnings: list[str]
    diameter_mm: float | None
    segment: str | None
    us_visible: bool | None
    distance_to_vessel_mm: float | None
    distance_to_critical_mm: float | None
    margin_achievable_mm: float | None


class PlanOut(Schema):
    id: int
    version: int
    session: int
    status: str
    proposed_lesions: list[str]
    proposed_split: list[list[str]]
    lesions: list[str]
    planned_date: dt.date | None
    reasons: str
    findings: list[FindingOut]
    protocol_version: str
    drafted_by: str
    drafted_at: dt.datetime
    confirmed_by: str
    confirmed_at: dt.datetime | None
    rfa_session_seq: int | None
    performed_lesions: list[str]
    differs: bool


class ProposalOut(Schema):
    session: int
    sessions_left: int
    lesions: list[LesionOut]
    next_session: list[str]
    sessions: list[list[str]]
    beyond_limit: list[str]
    open_plan: PlanOut | None


class ChoiceIn(Schema):
    lesions: list[str] = Field(max_length=MAX_LESIONS_IN_A_CHOICE)
    planned_date: dt.date | None = None


class CheckOut(Schema):
    session: int
    added: list[str]
    removed: list[str]
    findings: list[FindingOut]
    confirmable_without_reason: bool
    confirmable_with_reason: bool


class PlanIn(Schema):
    lesions: list[str] = Field(max_length=MAX_LESIONS_IN_A_CHOICE)
    planned_date: dt.date | None = None
    reasons: str = Field(default="", max_length=4000)
    version: int | None = None
    confirm: bool = False


class SavedOut(Schema):
    plan: PlanOut
    findings: list[FindingOut]


class CancelIn(Schema):
    version: int
    reason: str = Field(min_length=1, max_length=2000)


# --- helpers ----------------------------------------------------------------------------------


def plan_out(plan: SessionPlan) -> dict[str, Any]:
    """A plan as the API answers it."""
    return {
        "id": plan.pk,
        "version": plan.version,
        "session": plan.session,
        "status": plan.status,
        "proposed_lesions": plan.proposed_lesions,
        "proposed_split": plan.proposed_split,
        "lesions": plan.lesions,
        "planned_date": plan.planned_date,
        "reasons": plan.reasons,
        "findings": plan.findings,
        "protocol_version": plan.protocol_version,
        "drafted_by": plan.drafted_by,
        "drafted_at": plan.drafted_at,
        "confirmed_by": plan.confirmed_by,
        "confirmed_at": plan.confirmed_at,
        "rfa_session_seq": plan.rfa_session_seq,
        "performed_lesions": plan.performed_lesions,
        "differs": plan.differs,
    }


def _refusal_item(field: str, message: str, code: str, rule: str, source: str) -> dict[str, Any]:
    return {
        "loc": ["body", "payload", field],
        "msg": message,
        "type": code,
        "rule": rule,
        "source": source,
    }


# --- routes -----------------------------------------------------------------------------------


@router.get(
    "/patients/{patient_id}/planner",
    response={200: ProposalOut, 401: E, 403: E, 404: E},
    summary="the planner's proposal for the patient's next RFA session",
)
def proposal(request: HttpRequest, patient_id: int) -> Any:
    access = request_access(request)
    p = access.patient(patient_id)
    access.require(p.site_id, PLAN_READ, "the planner")
    seen = overview(p, today=study_today())
    proposal = seen.proposal
    plan = open_plan(p)
    return {
        "session": seen.session,
        "sessions_left": proposal.sessions_left,
        "lesions": seen.lesions,
        "next_session": list(proposal.next_session),
        "sessions": [list(x) for x in proposal.sessions],
        "beyond_limit": list(proposal.beyond_limit),
        "open_plan": plan_out(plan) if plan is not None else None,
    }


@router.get(
    "/patients/{patient_id}/plans",
    response={200: list[PlanOut], 401: E, 403: E, 404: E},
    summary="the patient's session plans, newest first",
)
def plans(request: HttpRequest, patient_id: int) -> Any:
    access = request_access(request)
    p = access.patient(patient_id)
    access.require(p.site_id, PLAN_READ, "the session plans")
    return [plan_out(x) for x in plans_of(p)]


@router.post(
    "/patients/{patient_id}/plans/check",
    response={200: CheckOut, 400: E, 401: E, 403: E, 404: E, 422: RefusalOut},
    summary="judge a choice of lesions and date against the rules (nothing is stored)",
)
def check(request: HttpRequest, patient_id: int, payload: ChoiceIn) -> Any:
    access = request_access(request)
    p = access.patient(patient_id)
    access.require(p.site_id, WRITE, "planning")
    result = check_patient_plan(
        p, lesions=payload.lesions, planned_date=payload.planned_date, today=study_today()
    )
    return {
        "session": result.session,
        "added": list(result.added),
        "removed": list(result.removed),
        "findings": findings_json(result),
        "confirmable_without_reason": not result.blocking(None),
        "confirmable_with_reason": not result.refusals,
    }


@router.post(
    "/patients/{patient_id}/plans",
    response={
        200: SavedOut,
        201: SavedOut,
        400: E,
        401: E,
        403: E,
        404: E,
        409: E,
        422: RefusalOut,
    },
    summary="draft or change the patient's open plan; confirm it (investigator) with confirm=true",
)
def save(request: HttpRequest, patient_id: int, payload: PlanIn) -> Any:
    access = request_access(request)
    p = access.patient(patient_id)
    access.require(p.site_id, WRITE, "planning")
    if payload.confirm:
        access.require(p.site_id, PLAN_CONFIRM, "confirming a plan")
    plan, result = save_plan(
        p,
        lesions=payload.lesions,
        planned_date=payload.planned_date,
        reasons=payload.reasons,
        actor=request_actor(request),
        expected_version=payload.version,
        confirm=payload.confirm,
        today=study_today(),
    )
    body = {"plan": plan_out(plan), "findings": findings_json(result)}
    return Status(201 if payload.version is None else 200, body)


@router.post(
    "/patients/{patient_id}/plans/{plan_id}/cancel",
    response={200: PlanOut, 400: E, 401: E, 403: E, 404: E, 409: E, 422: RefusalOut},
    summary="cancel an open plan (version read, reason)",
)
def cancel(request: HttpRequest, patient_id: int, plan_id: int, payload: CancelIn) -> Any:
    access = request_access(request)
    p = access.patient(patient_id)
    access.require(p.site_id, WRITE, "planning")
    plan = SessionPlan.objects.filter(patient=p, pk=plan_id).first()
    if plan is None:
        return Status(404, {"detail": f"no plan {plan_id} for this patient"})
    cancel_plan(
        plan, expected_version=payload.version, actor=request_actor(request), reason=payload.reason
    )
    return plan_out(plan)


def register(api: NinjaAPI) -> None:
    """Add these routes and the answers to the planning errors to ``api``."""

    def refused(request: HttpRequest, exc: Any) -> HttpResponse:
        items = [
            _refusal_item(
                "reasons" if f.severity == "reason_required" else "lesions",
                f.message,
                f.code,
                f.rule,
                f.source,
            )
            for f in exc.findings
        ]
        return api.create_response(request, {"detail": items}, status=422)

    def bad_input(request: HttpRequest, exc: Any) -> HttpResponse:
        item = _refusal_item(exc.field, exc.message, "value_error", "", "")
        return api.create_response(request, {"detail": [item]}, status=422)

    api.add_exception_handler(PlanRefusedError, refused)
    api.add_exception_handler(PlanError, bad_input)
    api.add_router("/", router)
