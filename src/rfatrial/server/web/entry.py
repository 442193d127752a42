"""Data entry: one form per kind of event, written through ``record_event``.

The form checks types; the kernel's schema and the protocol check the rest when the event is
recorded. A schema error comes back as ``path: message`` lines, each shown beside its field (or
its row of a table of lesions, agents or results). An event that breaks a protocol rule is refused
until a justification is given: the form then lists the rules and shows the justification box.
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

from rfatrial.server.study import models as m
from rfatrial.server.study.services import EventError, JustificationRequiredError, record_event
from rfatrial.server.web.access import actor_of, can_write, patient_or_404, signed_in
from rfatrial.server.web.summaries import KIND_LABELS

__all__ = ["ENTRY_KINDS", "LAB_FIELDS", "record_view"]

DateInput = forms.DateInput(attrs={"type": "date"})


def _choices(values: list[tuple[str, str]], blank: bool = False) -> list[tuple[str, str]]:
    return ([("", "—")] if blank else []) + values


class EventForm(forms.Form):
    date = forms.DateField(widget=DateInput, help_text="The day it happened.")
    justification = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this event departs from the protocol (required when it breaks a rule).",
    )


class ScreeningForm(EventForm):
    consent_date = forms.DateField(widget=DateInput)
    eligible = forms.TypedChoiceField(
        choices=[("true", "yes"), ("false", "no")], coerce=lambda v: v == "true"
    )
    liver_lesion_count = forms.IntegerField(min_value=0)
    ras_status = forms.ChoiceField(choices=m.RAS, initial="unknown")
    ecog = forms.TypedChoiceField(
        choices=_choices([(str(i), str(i)) for i in range(5)], blank=True),
        coerce=int,
        required=False,
        empty_value=None,
    )
    extrahepatic_disease = forms.BooleanField(required=False)


REGIMENS = ["FOLFOX", "FOLFIRI", "CAPOX", "FOLFOXIRI", "FOLFOX + bevacizumab"]


class CycleForm(EventForm):
    regimen = forms.CharField(
        max_length=64, widget=forms.TextInput(attrs={"list": "regimens"}), initial="FOLFOX"
    )
    line = forms.IntegerField(min_value=1, max_value=10, initial=1)


class AgentForm(forms.Form):
    name = forms.CharField(max_length=64, required=False)
    dose = forms.FloatField(required=False)
    unit = forms.ChoiceField(choices=m.DOSE_UNITS, required=False)


class ImagingForm(EventForm):
    modality = forms.ChoiceField(choices=m.MODALITIES, initial="CT")
    purpose = forms.ChoiceField(choices=m.PURPOSES, initial="response")
    local_progression = forms.CharField(
        required=False, help_text="Lesion ids with local progression, comma-separated."
    )
    non_target_progression = forms.BooleanField(required=False)
    extrahepatic_progression = forms.BooleanField(required=False)


class MeasurementForm(forms.Form):
    lesion_id = forms.CharField(max_length=32, required=False)
    segment = forms.ChoiceField(choices=_choices(m.SEGMENTS, blank=True), required=False)
    diameter_mm = forms.FloatField(required=False)
    too_small_to_measure = forms.BooleanField(required=False)
    us_visible = forms.NullBooleanField(required=False)
    distance_to_vessel_mm = forms.FloatField(required=False)
    is_new = forms.BooleanField(required=False)


# analyte, label, unit, default upper limit of normal (for criteria in multiples of the ULN)
LAB_FIELDS: list[tuple[str, str, str, float | None]] = [
    ("platelets", "Platelets", "10^9/L", None),
    ("neutrophils", "Neutrophils", "10^9/L", None),
    ("hemoglobin", "Hemoglobin", "g/dL", None),
    ("inr", "INR", "ratio", None),
    ("bilirubin", "Bilirubin", "µmol/L", 21.0),
    ("alt", "ALT", "U/L", 40.0),
    ("ast", "AST", "U/L", 40.0),
    ("albumin", "Albumin", "g/L", None),
    ("creatinine", "Creatinine", "µmol/L", 106.0),
]


class LabForm(EventForm):
    ascites = forms.ChoiceField(choices=_choices(m.ASCITES, blank=True), required=False)
    encephalopathy = forms.ChoiceField(
        choices=_choices(m.ENCEPHALOPATHY, blank=True), required=False
    )

    def __init__(self, *args: Any, ulns: dict[str, float] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ulns = ulns or {}
        for analyte, label, unit, uln in LAB_FIELDS:
            self.fields[analyte] = forms.FloatField(required=False, label=f"{label} ({unit})")
            if uln is not None:
                self.fields[f"{analyte}_uln"] = forms.FloatField(
                    required=False,
                    label=f"{label} ULN",
                    initial=ulns.get(analyte, uln),
                )

    def lab_rows(self) -> list[dict[str, Any]]:
        rows = []
        for analyte, label, unit, uln in LAB_FIELDS:
            rows.append(
                {
                    "label": label,
                    "unit": unit,
                    "value": self[analyte],
                    "uln": self[f"{analyte}_uln"] if uln is not None else None,
                }
            )
        return rows


class RfaForm(EventForm):
    complication = forms.CharField(
        required=False, max_length=2000, help_text="A complication of the session, if any."
    )
    cirse_grade = forms.TypedChoiceField(
        choices=_choices([(str(i), str(i)) for i in range(1, 7)], blank=True),
        coerce=int,
        required=False,
        empty_value=None,
    )
    clavien_dindo = forms.ChoiceField(choices=_choices(m.CLAVIEN_DINDO, blank=True), required=False)


class AblationForm(forms.Form):
    ablated = forms.BooleanField(required=False)
    lesion_id = forms.CharField(max_length=32, required=False)
    technical_success = forms.BooleanField(required=False, initial=True)
    margin_mm = forms.FloatField(required=False)
    electrode = forms.CharField(max_length=64, required=False)
    power_w = forms.FloatField(required=False)
    time_min = forms.FloatField(required=False)


# --- building the event -----------------------------------------------------------------------

Rows = list[tuple[int, dict[str, Any]]]  # (form index, cleaned data) of the rows kept


@dataclass
class Built:
    event: dict[str, Any]
    # list attribute of the event -> the form index of each of its items
    rows: dict[str, list[int]] = field(default_factory=dict)
    # list attribute -> the form field of an item (for lab results: the analyte field)
    fields: dict[str, list[str]] = field(default_factory=dict)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != ""}


def _base(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "date": data["date"].isoformat()}


def build_screening(data: dict[str, Any], rows: Rows) -> Built:
    event = _base("screening", data) | _drop_none(
        {
            "consent_date": data["consent_date"].isoformat(),
            "eligible": data["eligible"],
            "liver_lesion_count": data["liver_lesion_count"],
            "ras_status": data["ras_status"],
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
            "lesion_id": r.get("lesion_id", "").strip(),
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
    for analyte, _, unit, uln in LAB_FIELDS:
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
    if data.get("complication"):
        complications.append(
            _drop_none(
                {
                    "description": data["complication"],
                    "cirse_grade": data.get("cirse_grade"),
                    "clavien_dindo": data.get("clavien_dindo"),
                }
            )
        )
    event = _base("rfa_session", data) | {"lesions": lesions, "complications": complications}
    return Built(event, {"lesions": [i for i, _ in kept]})


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
    "systemic_cycle": EntryKind(CycleForm, build_cycle, AgentForm, "Agents", 3),
    "imaging": EntryKind(ImagingForm, build_imaging, MeasurementForm, "Lesions", 3),
    "lab_panel": EntryKind(LabForm, build_labs),
    "rfa_session": EntryKind(RfaForm, build_rfa, AblationForm, "Lesions ablated", 1),
}


def _known_lesions(patient: m.Patient) -> list[dict[str, Any]]:
    state = m.PatientState.objects.filter(patient=patient).first()
    return list(state.evaluation.get("lesions", [])) if state else []


def _initial_rows(kind: str, patient: m.Patient) -> list[dict[str, Any]]:
    lesions = _known_lesions(patient)
    if kind == "imaging":
        return [
            {"lesion_id": les["lesion_id"], "segment": les.get("segment") or ""}
            for les in lesions
            if les.get("organ", "liver") == "liver"
        ]
    if kind == "rfa_session":
        state = m.PatientState.objects.filter(patient=patient).first()
        remaining = state.evaluation.get("lesions_remaining", []) if state else []
        return [{"lesion_id": x, "technical_success": True} for x in remaining]
    if kind == "systemic_cycle":
        return [{"name": "oxaliplatin", "unit": "mg/m2"}, {"name": "fluorouracil", "unit": "mg/m2"}]
    return []


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
        head = parts[0]
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
        elif head in form.fields:
            form.add_error(head, text)
        else:
            loose.append(
                f"{match['path'] if match['path'] != '(top level)' else ''} {text}".strip()
            )
    return loose


@signed_in
def record_view(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Record one event of ``kind`` for the patient."""
    patient = patient_or_404(request, pk)
    spec = ENTRY_KINDS.get(kind)
    if spec is None:
        raise Http404("no form for this kind of event")
    if not can_write(request.user, patient.site.code):
        raise PermissionDenied("your role at this site does not record clinical data")
    form_kwargs: dict[str, Any] = {"ulns": _site_ulns(patient)} if kind == "lab_panel" else {}
    rows_class = formset_factory(spec.rows, extra=spec.extra_rows) if spec.rows else None
    deviations: list[Any] = []
    loose: list[str] = []
    needs_justification = False
    if request.method == "POST":
        form = spec.form(request.POST, **form_kwargs)
        formset = rows_class(request.POST, prefix="rows") if rows_class else None
        if form.is_valid() and (formset is None or formset.is_valid()):
            rows = [(i, f.cleaned_data) for i, f in enumerate(formset.forms)] if formset else []
            built = spec.build(form.cleaned_data, rows)
            justification = form.cleaned_data.get("justification") or None
            try:
                result = record_event(
                    patient, built.event, actor=actor_of(request), justification=justification
                )
            except JustificationRequiredError as exc:
                deviations = list(exc.deviations)
                needs_justification = True
                form.add_error(
                    "justification",
                    "This event breaks the protocol: explain why to record it.",
                )
            except EventError as exc:
                loose = place_errors(str(exc), form, formset, built)
            else:
                label = KIND_LABELS.get(kind, kind)
                flagged = f" ({len(result.flagged)} deviation(s) flagged)" if result.flagged else ""
                messages.success(request, f"{label} of {built.event['date']} recorded{flagged}.")
                if kind == "lab_panel":
                    return redirect("web:gate", pk=patient.pk)
                return redirect("web:patient", pk=patient.pk)
        needs_justification = needs_justification or bool(request.POST.get("justification"))
    else:
        form = spec.form(initial={"date": date.today()}, **form_kwargs)
        formset = (
            rows_class(prefix="rows", initial=_initial_rows(kind, patient)) if rows_class else None
        )
    return render(
        request,
        "web/record.html",
        {
            "patient": patient,
            "kind": kind,
            "label": KIND_LABELS.get(kind, kind),
            "form": form,
            "formset": formset,
            "rows_title": spec.rows_title,
            "deviations": deviations,
            "loose_errors": loose,
            "needs_justification": needs_justification,
            "regimens": REGIMENS,
            "event_fields": [
                form[name]
                for name in form.fields
                if name != "justification"
                and not (kind == "lab_panel" and name in {a for a, *_ in LAB_FIELDS})
                and not name.endswith("_uln")
            ],
            "lab_rows": form.lab_rows() if isinstance(form, LabForm) else None,
        },
        status=422 if request.method == "POST" else 200,
    )
