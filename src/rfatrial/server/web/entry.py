"""Data entry: one form per kind of event, written through ``record_event`` or, to correct a
recorded event, ``amend_event`` (with a reason, at the version that was read).

The form checks types; the kernel's schema and the protocol check the rest when the event is
recorded. A schema error comes back as ``path: message`` lines, each shown beside its field (or
its row of a table of lesions, agents or results) and listed, with a link to the field, in the
error summary at the top. An event that breaks a protocol rule is refused until a justification
is given: the form then lists the rules and shows the justification box. A record changed by
someone else since it was opened is not overwritten: the form says so and offers to reload.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.forms import BaseFormSet, formset_factory
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from rfatrial.kernel.history import LabPanel, RfaSession
from rfatrial.kernel.protocol import default_protocol
from rfatrial.server.monitoring.signing import RecordLockedError, is_locked
from rfatrial.server.planning.models import PlanStatus, SessionPlan
from rfatrial.server.planning.services import open_plan
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import StaleRecordError
from rfatrial.server.study.convert import StoredEvent, read_events
from rfatrial.server.study.services import (
    EventError,
    JustificationRequiredError,
    amend_event,
    record_event,
)
from rfatrial.server.web.access import actor_of, can_write, patient_or_404, signed_in
from rfatrial.server.web.dates import format_date, format_for_request, placeholder
from rfatrial.server.web.forms import (
    CTCAE_TERMS,
    LAB_FIELDS,
    REGIMENS,
    AblationForm,
    AdverseEventForm,
    AgentForm,
    CycleForm,
    DeathForm,
    EventForm,
    FollowUpForm,
    ImagingForm,
    LabForm,
    LostForm,
    MeasurementForm,
    PostRfaForm,
    PostRfaRowForm,
    RfaForm,
    ScreeningForm,
    WithdrawalForm,
)
from rfatrial.server.web.summaries import KIND_LABELS

__all__ = [
    "ENTRY_KINDS",
    "FORM_OF_ACTION",
    "LAB_FIELDS",
    "amend_view",
    "error_summary",
    "initial_of",
    "place_errors",
    "record_view",
]

# --- building the event -----------------------------------------------------------------------

Rows = list[tuple[int, dict[str, Any]]]  # (form index, cleaned data) of the rows kept


@dataclass
class Built:
    event: dict[str, Any]
    # list attribute of the event -> the form index of each of its items
    rows: dict[str, list[int]] = field(default_factory=dict)
    # list attribute -> the form field of an item (for lab results: the analyte field)
    fields: dict[str, list[str]] = field(default_factory=dict)
    # attribute of the event -> the form field that holds it, when the names differ
    aliases: dict[str, str] = field(default_factory=dict)
    # list attribute -> (attribute of its first item -> the form field): a one-item list
    item_fields: dict[str, dict[str, str]] = field(default_factory=dict)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != ""}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _base(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "date": data["date"].isoformat()}


def build_screening(data: dict[str, Any], rows: Rows) -> Built:
    event = _base("screening", data) | _drop_none(
        {
            "consent_date": data["consent_date"].isoformat(),
            "eligible": data["eligible"],
            "liver_lesion_count": data["liver_lesion_count"],
            "ras_status": data["ras_status"],
            "braf_status": data.get("braf_status") or "unknown",
            "ecog": data.get("ecog"),
            "extrahepatic_disease": data["extrahepatic_disease"],
        }
    )
    return Built(event)


def build_cycle(data: dict[str, Any], rows: Rows) -> Built:
    kept = [(i, r) for i, r in rows if r.get("name") or r.get("dose") is not None]
    agents = [
        _drop_none({"name": r.get("name"), "dose": r.get("dose"), "unit": r.get("unit")})
        for _, r in kept
    ]
    event = _base("systemic_cycle", data) | {
        "regimen": data["regimen"],
        "line": data["line"] or 1,
        "agents": agents,
    }
    return Built(event, {"agents": [i for i, _ in kept]})


def _measurement(r: dict[str, Any]) -> dict[str, Any]:
    out = _drop_none(
        {
            "lesion_id": (r.get("lesion_id") or "").strip(),
            "segment": r.get("segment"),
            "diameter_mm": r.get("diameter_mm"),
            "us_visible": r.get("us_visible"),
            "distance_to_vessel_mm": r.get("distance_to_vessel_mm"),
        }
    )
    if r.get("too_small_to_measure"):
        out["too_small_to_measure"] = True
    return out


def build_imaging(data: dict[str, Any], rows: Rows) -> Built:
    measured = [
        (i, r)
        for i, r in rows
        if (r.get("lesion_id") or "").strip()
        and (r.get("diameter_mm") is not None or r.get("too_small_to_measure"))
    ]
    old = [(i, r) for i, r in measured if not r.get("is_new")]
    new = [(i, r) for i, r in measured if r.get("is_new")]
    local = [x.strip() for x in (data.get("local_progression") or "").split(",") if x.strip()]
    event = _base("imaging", data) | {
        "modality": data["modality"],
        "purpose": data["purpose"],
        "lesions": [_measurement(r) for _, r in old],
        "new_lesions": [_measurement(r) for _, r in new],
        "local_progression": local,
        "non_target_progression": data["non_target_progression"],
        "extrahepatic_progression": data["extrahepatic_progression"],
    }
    return Built(event, {"lesions": [i for i, _ in old], "new_lesions": [i for i, _ in new]})


def build_labs(data: dict[str, Any], rows: Rows) -> Built:
    results, names = [], []
    for analyte, _label, unit, uln in LAB_FIELDS:
        value = data.get(analyte)
        if value is None:
            continue
        item: dict[str, Any] = {"analyte": analyte, "value": value, "unit": unit}
        if uln is not None and data.get(f"{analyte}_uln") is not None:
            item["uln"] = data[f"{analyte}_uln"]
        results.append(item)
        names.append(analyte)
    event = _base("lab_panel", data) | _drop_none(
        {"ascites": data.get("ascites"), "encephalopathy": data.get("encephalopathy")}
    )
    event["results"] = results
    return Built(event, fields={"results": names})


def build_rfa(data: dict[str, Any], rows: Rows) -> Built:
    kept = [(i, r) for i, r in rows if r.get("ablated") and (r.get("lesion_id") or "").strip()]
    lesions = [
        _drop_none(
            {
                "lesion_id": r["lesion_id"].strip(),
                "technical_success": bool(r.get("technical_success")),
                "margin_mm": r.get("margin_mm"),
                "electrode": r.get("electrode"),
                "power_w": r.get("power_w"),
                "time_min": r.get("time_min"),
            }
        )
        for _, r in kept
    ]
    complications = []
    if data.get("complication") or data.get("cirse_grade") or data.get("clavien_dindo"):
        complications.append(
            _drop_none(
                {
                    "description": data.get("complication"),
                    "cirse_grade": data.get("cirse_grade"),
                    "clavien_dindo": data.get("clavien_dindo"),
                    "onset_date": _iso(data.get("complication_onset")),
                }
            )
        )
    event = _base("rfa_session", data) | {"lesions": lesions, "complications": complications}
    return Built(
        event,
        {"lesions": [i for i, _ in kept]},
        item_fields={
            "complications": {
                "description": "complication",
                "cirse_grade": "cirse_grade",
                "clavien_dindo": "clavien_dindo",
                "onset_date": "complication_onset",
            }
        },
    )


def build_post_rfa(data: dict[str, Any], rows: Rows) -> Built:
    named = [(i, r) for i, r in rows if (r.get("lesion_id") or "").strip() and r.get("outcome")]
    results = [(i, r) for i, r in named if r["outcome"] != "new"]
    new = [(i, r) for i, r in named if r["outcome"] == "new"]
    event = _base("post_rfa_scan", data) | {
        "modality": data["modality"],
        "results": [
            {"lesion_id": r["lesion_id"].strip(), "outcome": r["outcome"]} for _, r in results
        ],
        "new_lesions": [_measurement(r) for _, r in new],
        "extrahepatic_progression": data["extrahepatic_progression"],
    }
    return Built(event, {"results": [i for i, _ in results], "new_lesions": [i for i, _ in new]})


def build_follow_up(data: dict[str, Any], rows: Rows) -> Built:
    event = _base("follow_up_visit", data) | {
        "visit_id": data["visit_id"].strip(),
        "components": list(data.get("components") or []),
    }
    return Built(event)


def build_adverse_event(data: dict[str, Any], rows: Rows) -> Built:
    event = _base("adverse_event", data) | _drop_none(
        {
            "term": data["term"].strip(),
            "grade": data["grade"],
            "serious": data["serious"],
            "related_to": list(data.get("related_to") or []),
            "end_date": _iso(data.get("end_date")),
            "outcome": data.get("outcome"),
        }
    )
    return Built(event)


def build_withdrawal(data: dict[str, Any], rows: Rows) -> Built:
    event = _base("withdrawal", data) | {
        "reason": data["reason_given"],
        "initiated_by": data["initiated_by"],
    }
    return Built(event, aliases={"reason": "reason_given"})


def build_death(data: dict[str, Any], rows: Rows) -> Built:
    return Built(_base("death", data) | {"cause": (data.get("cause") or "").strip() or "unknown"})


def build_lost(data: dict[str, Any], rows: Rows) -> Built:
    return Built(_base("lost_to_follow_up", data))


# --- a recorded event back into its form (to amend it) -------------------------------------------


def _opt(value: Any) -> Any:
    return "" if value is None else value


def initial_of(event: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The form's initial values and the rows' initial values that show ``event`` (a kernel
    event) as it was recorded: what the form of its kind would build it from."""
    t = event.type
    initial: dict[str, Any] = {"date": event.date}
    rows: list[dict[str, Any]] = []
    if t == "screening":
        initial |= {
            "consent_date": event.consent_date,
            "eligible": "true" if event.eligible else "false",
            "liver_lesion_count": event.liver_lesion_count,
            "ras_status": event.ras_status,
            "braf_status": event.braf_status,
            "ecog": _opt(event.ecog),
            "extrahepatic_disease": event.extrahepatic_disease,
        }
    elif t == "systemic_cycle":
        initial |= {"regimen": event.regimen, "line": event.line}
        rows = [{"name": a.name, "dose": a.dose, "unit": a.unit} for a in event.agents]
    elif t == "imaging":
        initial |= {
            "modality": event.modality,
            "purpose": event.purpose,
            "local_progression": ", ".join(event.local_progression),
            "non_target_progression": event.non_target_progression,
            "extrahepatic_progression": event.extrahepatic_progression,
        }
        for items, is_new in ((event.lesions, False), (event.new_lesions, True)):
            rows += [
                {
                    "lesion_id": x.lesion_id,
                    "segment": x.segment or "",
                    "diameter_mm": x.diameter_mm,
                    "too_small_to_measure": x.too_small_to_measure,
                    "us_visible": x.us_visible,
                    "distance_to_vessel_mm": x.distance_to_vessel_mm,
                    "is_new": is_new,
                }
                for x in items
            ]
    elif t == "lab_panel":
        initial |= {"ascites": _opt(event.ascites), "encephalopathy": _opt(event.encephalopathy)}
        for r in event.results:
            if not lab_result_in_form(r):
                continue
            initial[r.analyte] = r.value
            if r.uln is not None:
                initial[f"{r.analyte}_uln"] = r.uln
    elif t == "rfa_session":
        rows = [
            {
                "ablated": True,
                "lesion_id": x.lesion_id,
                "technical_success": x.technical_success,
                "margin_mm": x.margin_mm,
                "electrode": x.electrode or "",
                "power_w": x.power_w,
                "time_min": x.time_min,
            }
            for x in event.lesions
        ]
        if event.complications:
            c = event.complications[0]
            initial |= {
                "complication": c.description,
                "cirse_grade": c.cirse_grade,
                "clavien_dindo": _opt(c.clavien_dindo),
                "complication_onset": c.onset_date,
            }
        if event.justification:
            initial["justification"] = event.justification
    elif t == "post_rfa_scan":
        initial |= {
            "modality": event.modality,
            "extrahepatic_progression": event.extrahepatic_progression,
        }
        rows = [{"lesion_id": r.lesion_id, "outcome": r.outcome} for r in event.results]
        rows += [
            {
                "lesion_id": x.lesion_id,
                "outcome": "new",
                "diameter_mm": x.diameter_mm,
                "segment": x.segment or "",
            }
            for x in event.new_lesions
        ]
    elif t == "follow_up_visit":
        initial |= {"visit_id": event.visit_id, "components": list(event.components)}
    elif t == "adverse_event":
        initial |= {
            "term": event.term,
            "grade": event.grade,
            "serious": event.serious,
            "related_to": list(event.related_to),
            "end_date": event.end_date,
            "outcome": _opt(event.outcome),
        }
    elif t == "withdrawal":
        initial |= {"reason_given": event.reason, "initiated_by": event.initiated_by}
    elif t == "death":
        initial |= {"cause": event.cause}
    return initial, rows


# What the forms do not show is kept as recorded when an event is corrected (nothing stored is
# lost): the planner's features of a lesion, a lab result in another unit or of another analyte,
# the complications after the first, the scan's visit.
_UNSEEN_MEASUREMENT = ("organ", "is_node", "distance_to_critical_mm", "margin_achievable_mm")
_FORM_UNITS = {analyte: unit for analyte, _label, unit, _uln in LAB_FIELDS}


def lab_result_in_form(result: Any) -> bool:
    """Whether the lab form shows this stored result (its analyte, in the form's unit)."""
    return bool(_FORM_UNITS.get(result.analyte) == result.unit)


def keep_unseen(event: dict[str, Any], stored: Any) -> dict[str, Any]:
    """``event`` (built from a form) with what the form does not show taken from ``stored``."""
    old = stored.model_dump(mode="json")
    t = event["type"]
    if t in ("imaging", "post_rfa_scan"):
        before = {x["lesion_id"]: x for x in old.get("lesions", []) + old.get("new_lesions", [])}
        for attr in ("lesions", "new_lesions"):
            for item in event.get(attr, []):
                was = before.get(item["lesion_id"], {})
                for key in _UNSEEN_MEASUREMENT:
                    if key not in item and was.get(key) not in (None, False, "liver"):
                        item[key] = was[key]
        if t == "imaging" and old.get("visit_id"):
            event["visit_id"] = old["visit_id"]
    elif t == "lab_panel":
        lln = {r["analyte"]: r["lln"] for r in old["results"] if r.get("lln") is not None}
        for item in event["results"]:
            if item["analyte"] in lln:
                item["lln"] = lln[item["analyte"]]
        event["results"] += [
            r
            for r, obj in zip(old["results"], stored.results, strict=True)
            if not lab_result_in_form(obj)
        ]
    elif t == "rfa_session":
        event["complications"] += old["complications"][1:]
    return event


# --- the kinds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryKind:
    form: type[EventForm]
    build: Callable[[dict[str, Any], Rows], Built]
    rows: type[forms.Form] | None = None
    rows_title: str = ""
    extra_rows: int = 0


ENTRY_KINDS: dict[str, EntryKind] = {
    "screening": EntryKind(ScreeningForm, build_screening),
    "systemic_cycle": EntryKind(CycleForm, build_cycle, AgentForm, gettext_noop("Agents"), 3),
    "imaging": EntryKind(ImagingForm, build_imaging, MeasurementForm, gettext_noop("Lesions"), 3),
    "lab_panel": EntryKind(LabForm, build_labs),
    "rfa_session": EntryKind(RfaForm, build_rfa, AblationForm, gettext_noop("Lesions ablated"), 1),
    "post_rfa_scan": EntryKind(
        PostRfaForm,
        build_post_rfa,
        PostRfaRowForm,
        gettext_noop("Ablated lesions and new lesions"),
        2,
    ),
    "follow_up_visit": EntryKind(FollowUpForm, build_follow_up),
    "adverse_event": EntryKind(AdverseEventForm, build_adverse_event),
    "withdrawal": EntryKind(WithdrawalForm, build_withdrawal),
    "death": EntryKind(DeathForm, build_death),
    "lost_to_follow_up": EntryKind(LostForm, build_lost),
}


# Rows of a baseline scan (no lesion known yet): room for a multifocal recurrence on one form.
BASELINE_ROWS = 8


# The form that records what a next action of the worklist asks for.
FORM_OF_ACTION = {
    "systemic_cycle": "systemic_cycle",
    "response_scan": "imaging",
    "pre_rfa_labs": "lab_panel",
    "post_rfa_scan": "post_rfa_scan",
    "follow_up_visit": "follow_up_visit",
    "confirm_withdrawal": "withdrawal",
}


def _evaluation(patient: m.Patient) -> dict[str, Any]:
    state = m.PatientState.objects.filter(patient=patient).first()
    return dict(state.evaluation) if state else {}


def _initial_rows(kind: str, patient: m.Patient) -> list[dict[str, Any]]:
    evaluation = _evaluation(patient)
    lesions = list(evaluation.get("lesions", []))
    if kind == "imaging":
        return [
            {"lesion_id": les["lesion_id"], "segment": les.get("segment") or ""}
            for les in lesions
            if les.get("organ", "liver") == "liver"
        ]
    if kind == "rfa_session":
        # the lesions of the confirmed plan, else every lesion remaining
        plan = _confirmed_plan(patient)
        chosen = plan.lesions if plan is not None else evaluation.get("lesions_remaining", [])
        return [{"lesion_id": x, "technical_success": True} for x in chosen]
    if kind == "post_rfa_scan":
        # the lesions of the last session, whose technique efficacy the scan judges
        sessions = [s.event for s in read_events(patient) if isinstance(s.event, RfaSession)]
        return [{"lesion_id": x.lesion_id} for x in sessions[-1].lesions] if sessions else []
    if kind == "systemic_cycle":
        return [{"name": "oxaliplatin", "unit": "mg/m2"}, {"name": "fluorouracil", "unit": "mg/m2"}]
    return []


def _confirmed_plan(patient: m.Patient) -> SessionPlan | None:
    plan = open_plan(patient)
    return plan if plan is not None and plan.status == PlanStatus.CONFIRMED else None


def _due_visits(patient: m.Patient) -> list[str]:
    ids = patient.next_actions.filter(kind="follow_up_visit").values_list("visit_id", flat=True)
    return [v for v in ids if v]


def _site_ulns(patient: m.Patient) -> dict[str, float]:
    return {
        r.analyte: r.uln
        for r in m.SiteNormalRange.objects.filter(site=patient.site, uln__isnull=False)
        if r.sex in ("", patient.sex)
    }


_LINE = re.compile(r"^\s+(?P<path>[^:]+): (?P<message>.*)$")


def place_errors(
    message: str, form: forms.Form, formset: BaseFormSet | None, built: Built
) -> list[str]:
    """Put each ``path: message`` line of an :class:`EventError` beside its field; the rest is
    returned (shown at the top of the form)."""
    loose: list[str] = []
    lines = [ln for ln in message.splitlines()[1:] if ln.strip()] or [message]
    for line in lines:
        match = _LINE.match(line)
        if not match:
            if "date" in line and "after today" in line:
                form.add_error("date", line.split(": ", 1)[-1])
            else:
                loose.append(line)
            continue
        parts = match["path"].strip().split(".")
        if parts[0] == built.event["type"] and len(parts) > 1:  # the union's tag
            parts = parts[1:]
        text = match["message"]
        head = built.aliases.get(parts[0], parts[0])
        if head in built.rows and formset is not None and len(parts) >= 2 and parts[1].isdigit():
            k = int(parts[1])
            index = built.rows[head][k] if k < len(built.rows[head]) else None
            row = formset.forms[index] if index is not None else None
            name = parts[2] if len(parts) > 2 else None
            if row is not None and name in row.fields:
                row.add_error(name, text)
            elif row is not None:
                row.add_error(None, text)
            else:
                loose.append(f"{match['path']}: {text}")
        elif head in built.fields and len(parts) >= 2 and parts[1].isdigit():
            k = int(parts[1])
            names = built.fields[head]
            if k < len(names):
                form.add_error(names[k], text)
            else:
                loose.append(f"{match['path']}: {text}")
        elif head in built.item_fields and len(parts) >= 3 and parts[1] == "0":
            name = built.item_fields[head].get(parts[2])
            if name in form.fields:
                form.add_error(name, text)
            else:
                loose.append(f"{match['path']}: {text}")
        elif head in form.fields:
            form.add_error(head, text)
        else:
            loose.append(
                f"{match['path'] if match['path'] != '(top level)' else ''} {text}".strip()
            )
    return loose


def error_summary(form: forms.Form, formset: BaseFormSet | None = None) -> list[dict[str, str]]:
    """Every field's error with the id of its field (the summary's links), in page order."""
    out: list[dict[str, str]] = []
    for bound in form:
        for e in bound.errors:
            out.append({"id": bound.id_for_label, "label": str(bound.label), "text": str(e)})
    if formset is not None:
        for i, row in enumerate(formset.forms):
            for bound in row:
                for e in bound.errors:
                    label = _("Row %(n)s, %(field)s") % {"n": i + 1, "field": bound.label}
                    out.append({"id": bound.id_for_label, "label": label, "text": str(e)})
            for e in row.non_field_errors():
                first = next(iter(row), None)
                out.append(
                    {
                        "id": first.id_for_label if first is not None else "",
                        "label": _("Row %(n)s") % {"n": i + 1},
                        "text": str(e),
                    }
                )
    return out


def _show_kept(form: forms.Form, kept: list[Any]) -> None:
    """A result kept as recorded (another unit) is not typed again in the form's unit."""
    for r in kept:
        if r.analyte in form.fields:
            form.fields[r.analyte].disabled = True
            form.fields[r.analyte].help_text = _("recorded as %(value)s %(unit)s, kept") % {
                "value": f"{r.value:g}",
                "unit": r.unit,
            }


def _stored(patient: m.Patient, seq: int) -> StoredEvent:
    for s in read_events(patient):
        if s.row.seq == seq:
            return s
    raise Http404("no such event")


def _entry(
    request: HttpRequest, patient: m.Patient, kind: str, stored: StoredEvent | None
) -> HttpResponse:
    """The form of ``kind`` for a new event, or for ``stored`` (amended with a reason)."""
    spec = ENTRY_KINDS.get(kind)
    if spec is None:
        raise Http404("no form for this kind of event")
    if not can_write(request.user, patient.site.code):
        raise PermissionDenied(_("your role at this site does not record clinical data"))
    amending = stored is not None
    code = format_for_request(request, patient.site.code)
    form_kwargs: dict[str, Any] = {"date_format": code, "amending": amending}
    if kind == "lab_panel":
        form_kwargs["ulns"] = _site_ulns(patient)
    extra = 0 if amending else spec.extra_rows
    if kind == "imaging" and not amending and not _evaluation(patient).get("lesions"):
        extra = BASELINE_ROWS  # a baseline scan: every lesion is new to the study
    rows_class = formset_factory(spec.rows, extra=extra) if spec.rows else None
    deviations: list[Any] = []
    loose: list[str] = []
    needs_justification = False
    status = 200
    kept_results = (
        [r for r in stored.event.results if not lab_result_in_form(r)]
        if stored is not None and isinstance(stored.event, LabPanel)
        else []
    )
    if request.method == "POST":
        form = spec.form(request.POST, **form_kwargs)
        _show_kept(form, kept_results)
        formset = rows_class(request.POST, prefix="rows") if rows_class else None
        if form.is_valid() and (formset is None or formset.is_valid()):
            rows = [(i, f.cleaned_data) for i, f in enumerate(formset.forms)] if formset else []
            built = spec.build(form.cleaned_data, rows)
            if stored is not None:
                built.event = keep_unseen(built.event, stored.event)
            justification = form.cleaned_data.get("justification") or None
            try:
                if stored is None:
                    result = record_event(
                        patient, built.event, actor=actor_of(request), justification=justification
                    )
                else:
                    result = amend_event(
                        patient,
                        stored.row.seq,
                        built.event,
                        expected_version=form.cleaned_data["version"],
                        actor=actor_of(request),
                        reason=form.cleaned_data["reason"],
                        justification=justification,
                    )
            except JustificationRequiredError as exc:
                deviations = list(exc.deviations)
                needs_justification = True
                form.add_error(
                    "justification",
                    _("This event breaks the protocol: explain why to record it."),
                )
            except RecordLockedError as exc:
                status = 423
                loose = [str(exc)]
            except StaleRecordError:
                status = 409
                loose = [
                    _(
                        "Someone else changed this record since you opened it; nothing was"
                        " saved. Reload the record to see the new values, then make your"
                        " change again."
                    )
                ]
            except EventError as exc:
                loose = place_errors(str(exc), form, formset, built)
            else:
                label = KIND_LABELS.get(kind, kind)
                when = format_date(date.fromisoformat(built.event["date"]), code)
                flagged = (
                    _(" (%(n)s deviation(s) flagged)") % {"n": len(result.flagged)}
                    if result.flagged
                    else ""
                )
                verb = _("corrected") if amending else _("recorded")
                messages.success(request, f"{label} {when} {verb}{flagged}.")
                if kind == "lab_panel" and not amending:
                    return redirect("web:gate", pk=patient.pk)
                return redirect("web:patient", pk=patient.pk)
        needs_justification = needs_justification or bool(request.POST.get("justification"))
        status = status if status != 200 else 422
    else:
        if stored is None:
            initial: dict[str, Any] = {"date": date.today()}
            row_initial = _initial_rows(kind, patient)
            plan = _confirmed_plan(patient) if kind == "rfa_session" else None
            if plan is not None and plan.planned_date and plan.planned_date <= date.today():
                initial["date"] = plan.planned_date
        else:
            initial, row_initial = initial_of(stored.event)
            initial["version"] = stored.row.version
            if stored.row.justification and kind != "rfa_session":
                initial["justification"] = stored.row.justification
        if kind == "death":
            initial.setdefault("cause", "unknown")
        form = spec.form(initial=initial, **form_kwargs)
        _show_kept(form, kept_results)
        formset = rows_class(prefix="rows", initial=row_initial) if rows_class else None
        needs_justification = bool(initial.get("justification"))
    hidden = {"justification", "reason", "version"}
    return render(
        request,
        "web/entry.html",
        {
            "patient": patient,
            "kind": kind,
            "label": KIND_LABELS.get(kind, kind),
            "stored": stored,
            "locked": stored is not None and is_locked(stored.row),
            "form": form,
            "formset": formset,
            "rows_title": spec.rows_title,
            "from_plan": (
                _confirmed_plan(patient) if kind == "rfa_session" and stored is None else None
            ),
            "deviations": deviations,
            "loose_errors": loose,
            "summary": error_summary(form, formset),
            "needs_justification": needs_justification,
            "regimens": REGIMENS,
            "ctcae_terms": CTCAE_TERMS,
            "visits": _due_visits(patient) if kind == "follow_up_visit" else [],
            "date_placeholder": placeholder(code),
            "event_fields": [
                form[name]
                for name in form.fields
                if name not in hidden
                and not (kind == "lab_panel" and name in {a for a, *_ in LAB_FIELDS})
                and not name.endswith("_uln")
            ],
            "lab_rows": form.lab_rows() if isinstance(form, LabForm) else None,
            "kept_results": kept_results,
            "protocol_version": default_protocol().study.version,
        },
        status=status,
    )


@signed_in
def record_view(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Record one event of ``kind`` for the patient."""
    patient = patient_or_404(request, pk)
    return _entry(request, patient, kind, None)


@signed_in
def amend_view(request: HttpRequest, pk: int, seq: int) -> HttpResponse:
    """Correct the patient's recorded event ``seq``, with a reason (randomization excepted: its
    arm is the allocation list's)."""
    patient = patient_or_404(request, pk)
    stored = _stored(patient, seq)
    if stored.kind not in ENTRY_KINDS:
        raise Http404("this record is not corrected here")
    return _entry(request, patient, stored.kind, stored)
