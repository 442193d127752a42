"""Planning a patient's next RFA session: the planner's proposal, the investigator's choice, its
confirmation, and the session that carries it out.

Each write is one audited transaction (:func:`~rfatrial.server.study.audit.audited`) with
optimistic locking (the version read). The rules are the kernel's
(:func:`rfatrial.kernel.batch_planner.check_plan`): a draft is stored whatever it breaks, with the
kernel's findings, so that nothing typed is lost; a confirmation that would break a rule is refused
(:class:`PlanRefusedError`, nothing stored) with each rule's explanation and its place in the
protocol. Which rules refuse and which accept a reason is decided in the kernel:

- refused: a lesion not the patient's or not remaining, no lesion, more than the per-session
  maximum, fewer than the minimum while enough remain, a session beyond the maximum, a patient not
  in the experimental arm or off study, after progression or without a (recent) effective
  response, no date or a past date, a date within the separation (or an agent's hold) of a cycle,
  no passing pre-RFA labs fresh at the date, past the postponement limit;
- confirmed only with a reason: a change from the proposal, a lesion judged not ablatable or to
  assess, fewer than the minimum because fewer remain.

Recording what happened is never refused here: when an RFA session is recorded
(:func:`rfatrial.server.study.services.record_event`) the open plan is marked done with the
lesions actually treated (:func:`mark_plan_done`); a difference from the plan is shown, not
refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from rfatrial.kernel.batch_planner import (
    Note,
    PlanCheck,
    PlanFinding,
    check_plan,
    plan_sessions,
    remaining_lesion_features,
)
from rfatrial.kernel.batch_planner import SessionPlan as Proposal
from rfatrial.kernel.evaluation import Evaluation
from rfatrial.kernel.history import Event
from rfatrial.kernel.pathway import evaluate
from rfatrial.kernel.protocol import Protocol, default_protocol
from rfatrial.server.planning.models import OPEN, PlanStatus, SessionPlan
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, Audit, audited
from rfatrial.server.study.convert import history_from_db

__all__ = [
    "MAX_LESIONS_IN_A_CHOICE",
    "Overview",
    "PlanError",
    "PlanRefusedError",
    "cancel_plan",
    "check_patient_plan",
    "mark_plan_done",
    "open_plan",
    "overview",
    "plans_of",
    "save_plan",
]

# Far above any session (rfa.max_lesions_per_session): a bound on what a request may carry.
MAX_LESIONS_IN_A_CHOICE = 50


class PlanError(ValueError):
    """A request that cannot be applied to the plan (bad input, or a plan that is not open)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class PlanRefusedError(ValueError):
    """The plan would break the protocol: it is not confirmed (each rule with its source)."""

    def __init__(self, findings: Sequence[PlanFinding]) -> None:
        self.findings = tuple(findings)
        lines = "\n".join(f"  {f.code}: {f.message} [{f.source}]" for f in self.findings)
        super().__init__("this plan cannot be confirmed:\n" + lines)


def _clean_lesions(lesions: Sequence[str]) -> list[str]:
    out: list[str] = []
    for x in lesions:
        label = str(x).strip()
        if not label or len(label) > 32:
            raise PlanError("lesions", f"'{label}' is not a lesion id (1 to 32 characters)")
        if label not in out:
            out.append(label)
    if len(out) > MAX_LESIONS_IN_A_CHOICE:
        raise PlanError("lesions", f"at most {MAX_LESIONS_IN_A_CHOICE} lesions in a choice")
    return out


def open_plan(patient: m.Patient) -> SessionPlan | None:
    """The patient's draft or confirmed plan, if there is one."""
    return SessionPlan.objects.filter(patient=patient, status__in=OPEN).first()


def plans_of(patient: m.Patient) -> list[SessionPlan]:
    """Every plan of the patient, newest first."""
    return list(SessionPlan.objects.filter(patient=patient).order_by("-pk"))


def check_patient_plan(
    patient: m.Patient,
    *,
    lesions: Sequence[str],
    planned_date: date | None,
    today: date | None = None,
    protocol: Protocol | None = None,
) -> PlanCheck:
    """The kernel's judgement of a choice for the patient's next session (nothing is stored)."""
    return check_plan(
        history_from_db(patient),
        protocol or default_protocol(),
        lesions=_clean_lesions(lesions),
        planned_date=planned_date,
        today=today or date.today(),
    )


@dataclass(frozen=True, slots=True)
class Overview:
    """The planner's view of the patient today: each remaining lesion with its features and
    verdict, the proposal, and the number of the next session."""

    evaluation: Evaluation
    proposal: Proposal
    lesions: list[dict[str, Any]]

    @property
    def session(self) -> int:
        return self.evaluation.rfa_sessions_done + 1


def overview(
    patient: m.Patient, *, today: date | None = None, protocol: Protocol | None = None
) -> Overview:
    """Every remaining lesion of the patient judged for the next session, and the proposal."""
    protocol = protocol or default_protocol()
    history = history_from_db(patient)
    evaluation = evaluate(history, protocol, today or date.today())
    features = remaining_lesion_features(history, evaluation)
    proposal = plan_sessions(features, protocol, sessions_done=evaluation.rfa_sessions_done)
    verdicts = {v.lesion_id: v for v in proposal.verdicts}
    lesions = []
    for f in features:
        v = verdicts[f.lesion_id]
        lesions.append(
            asdict(f)
            | {
                "verdict": v.verdict,
                "reasons": list(v.reasons),
                "warnings": list(v.warnings),
                "reason_notes": [note_json(n) for n in v.reason_notes],
                "warning_notes": [note_json(n) for n in v.warning_notes],
            }
        )
    # Largest first, as the planner ranks them: the choice then reads in that order too.
    lesions.sort(key=lambda x: (x["diameter_mm"] is None, -(x["diameter_mm"] or 0.0)))
    return Overview(evaluation, proposal, lesions)


def note_json(note: Note) -> dict[str, Any]:
    """A text of the planner as JSON: its message id and parameters (nested texts as objects,
    dates in ISO format), so that a page can say it in the reader's language."""

    def value(v: Any) -> Any:
        if isinstance(v, Note):
            return note_json(v)
        if isinstance(v, tuple):
            return [value(x) for x in v]
        return v.isoformat() if isinstance(v, date) else v

    return {"key": note.key, "params": {k: value(v) for k, v in note.params.items()}}


def findings_json(check: PlanCheck) -> list[dict[str, Any]]:
    """The findings as stored with the plan and answered by the API."""
    return [
        {
            "code": f.code,
            "severity": f.severity,
            "message": f.message,
            "note": note_json(f.note),
            "rule": f.rule,
            "source": f.source,
            "lesion_id": f.lesion_id,
        }
        for f in check.findings
    ]


def save_plan(
    patient: m.Patient,
    *,
    lesions: Sequence[str],
    planned_date: date | None,
    reasons: str,
    actor: Actor,
    expected_version: int | None = None,
    confirm: bool = False,
    today: date | None = None,
    protocol: Protocol | None = None,
) -> tuple[SessionPlan, PlanCheck]:
    """Save the investigator's choice as the patient's open plan, and confirm it if asked.

    A new plan is drafted when the patient has no open plan (``expected_version`` is then
    ``None``); otherwise the open plan, read at ``expected_version``, is changed (a confirmed
    plan that is changed without being confirmed again goes back to draft).

    Raises
    ------
    PlanRefusedError
        ``confirm`` and the choice breaks a rule (or needs a reason and ``reasons`` is empty):
        nothing is stored.
    PlanError
        Bad input, or an open plan exists and ``expected_version`` is ``None``.
    StaleRecordError
        Someone changed the plan since it was read.
    """
    today = today or date.today()
    protocol = protocol or default_protocol()
    chosen = _clean_lesions(lesions)
    reasons = reasons.strip()
    with audited(actor, "session plan saved") as audit:
        patient = m.Patient.objects.select_for_update().get(pk=patient.pk)
        check = check_plan(
            history_from_db(patient),
            protocol,
            lesions=chosen,
            planned_date=planned_date,
            today=today,
        )
        if confirm:
            blocking = check.blocking(reasons)
            if blocking:
                raise PlanRefusedError(blocking)
        values: dict[str, Any] = {
            "session": check.session,
            "proposed_lesions": list(check.proposal.next_session),
            "proposed_split": [list(s) for s in check.proposal.sessions],
            "lesions": chosen,
            "planned_date": planned_date,
            "reasons": reasons,
            "findings": findings_json(check),
            "protocol_version": protocol.version,
        }
        if confirm:
            values |= {
                "status": PlanStatus.CONFIRMED,
                "confirmed_by": actor.name,
                "confirmed_at": timezone.now(),
            }
        plan = SessionPlan.objects.select_for_update().filter(patient=patient, status__in=OPEN)
        current = plan.first()
        if current is None:
            if expected_version is not None:
                raise PlanError("version", "this patient has no open plan to change any more")
            plan_row = audit.create(
                SessionPlan,
                patient=patient,
                status=values.pop("status", PlanStatus.DRAFT),
                drafted_by=actor.name,
                drafted_at=timezone.now(),
                **values,
            )
            return plan_row, check
        if expected_version is None:
            raise PlanError(
                "version",
                f"the patient has an open plan (session {current.session}, {current.status}):"
                " change that plan with the version you read",
            )
        if not confirm and current.status == PlanStatus.CONFIRMED:
            values |= {"status": PlanStatus.DRAFT, "confirmed_by": "", "confirmed_at": None}
        what = "session plan confirmed" if confirm else "session plan changed"
        audit.update(current, reason=what, expected_version=expected_version, **values)
        return current, check


def cancel_plan(plan: SessionPlan, *, expected_version: int, actor: Actor, reason: str) -> None:
    """Cancel an open plan (read at ``expected_version``) with a reason."""
    if not reason.strip():
        raise PlanError("reason", "a reason is required to cancel a plan")
    with audited(actor, reason) as audit:
        current = SessionPlan.objects.select_for_update().get(pk=plan.pk)
        if current.status not in OPEN:
            raise PlanError(
                "status", f"the plan is {current.status}: only an open plan is cancelled"
            )
        audit.update(current, expected_version=expected_version, status=PlanStatus.CANCELLED)
        plan.refresh_from_db()


def mark_plan_done(audit: Audit, patient: m.Patient, row: m.EventRecord, event: Event) -> None:
    """An RFA session was recorded: the confirmed plan is done (with the lesions treated); a plan
    still in draft is cancelled, since the session it was drafted for has happened.

    Called by the service that records the session, inside its transaction.
    """
    if event.type != "rfa_session":
        return
    with transaction.atomic():
        plan = SessionPlan.objects.select_for_update().filter(patient=patient, status__in=OPEN)
        current = plan.first()
        if current is None:
            return
        if current.status == PlanStatus.CONFIRMED:
            audit.update(
                current,
                reason="RFA session recorded",
                status=PlanStatus.DONE,
                rfa_session_seq=row.seq,
                performed_lesions=[a.lesion_id for a in event.lesions],
            )
        else:
            audit.update(
                current,
                reason="RFA session recorded before the plan was confirmed",
                status=PlanStatus.CANCELLED,
            )


def follow_corrected_session(
    audit: Audit, patient: m.Patient, seq: int, event: Event | None
) -> None:
    """The RFA session ``seq`` was corrected (``event``) or deleted (None): its done plan follows.

    A correction updates the lesions the plan shows as treated, so a difference from the plan
    stays true; a session deleted as entered in error gives its plan back to the investigator,
    confirmed again (or cancelled, when another plan has been opened since). Called by the
    service that corrects or deletes the event, inside its transaction.
    """
    if event is not None and event.type != "rfa_session":
        return
    with transaction.atomic():
        plan = (
            SessionPlan.objects.select_for_update()
            .filter(patient=patient, status=PlanStatus.DONE, rfa_session_seq=seq)
            .first()
        )
        if plan is None:
            return
        if event is not None:
            lesions = [a.lesion_id for a in event.lesions]
            if lesions != plan.performed_lesions:
                audit.update(plan, reason="RFA session corrected", performed_lesions=lesions)
            return
        reopened = not SessionPlan.objects.filter(patient=patient, status__in=OPEN).exists()
        audit.update(
            plan,
            reason="RFA session deleted as entered in error",
            status=PlanStatus.CONFIRMED if reopened else PlanStatus.CANCELLED,
            rfa_session_seq=None,
            performed_lesions=[],
        )
