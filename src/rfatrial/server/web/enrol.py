"""Enrolling a patient (the patient and his screening, in one step) and randomizing him.

Randomization is the concealed service of :mod:`rfatrial.server.api.randomize`: the page never
shows or reads a slot of the allocation list; the arm is shown only once it is assigned.
Only an investigator of the patient's site randomizes, and only a patient whose screening
confirmed his eligibility and consent.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from rfatrial.server.api.randomize import RandomizationError, randomize
from rfatrial.server.study import models as m
from rfatrial.server.study.convert import read_events
from rfatrial.server.study.services import (
    EventError,
    JustificationRequiredError,
    record_event,
    register_patient,
)
from rfatrial.server.web.access import (
    WRITER_ROLES,
    actor_of,
    current_site,
    patient_or_404,
    signed_in,
    user_roles,
)
from rfatrial.server.web.dates import format_for_request, placeholder
from rfatrial.server.web.engine_texts import engine_text
from rfatrial.server.web.entry import Built, build_screening, error_summary, place_errors
from rfatrial.server.web.forms import EnrolForm, RandomizeForm

__all__ = ["can_randomize", "enrol_view", "randomization_status", "randomize_view"]


def _writable_sites(request: HttpRequest) -> list[str]:
    return sorted(code for code, roles in user_roles(request.user).items() if roles & WRITER_ROLES)


def can_randomize(user: Any, site_code: str) -> bool:
    """Whether the user randomizes the site's patients (its investigators only)."""
    return m.Role.INVESTIGATOR in user_roles(user).get(site_code, set())


def randomization_status(patient: m.Patient) -> tuple[bool, str]:
    """Whether the patient may be randomized now, and if not, why (words for the page)."""
    events = [s.event for s in read_events(patient)]
    if any(e.type == "randomization" for e in events):
        return False, _("The patient is randomized.")
    screening = next((e for e in events if e.type == "screening"), None)
    if screening is None:
        return False, _("No screening is recorded: record the screening first.")
    if not screening.eligible:
        return False, _("The screening did not confirm the patient's eligibility.")
    return True, ""


@signed_in
def enrol_view(request: HttpRequest) -> HttpResponse:
    """Register a new patient at one of the user's sites with his screening."""
    sites = _writable_sites(request)
    if not sites:
        raise PermissionDenied(_("your roles do not include enrolling patients"))
    chosen = current_site(request)
    site_code = request.POST.get("site") or (chosen if chosen in sites else sites[0])
    if site_code not in sites:
        raise PermissionDenied(_("you do not enrol patients at that site"))
    code = format_for_request(request, site_code)
    loose: list[str] = []
    status = 200
    if request.method == "POST":
        form = EnrolForm(request.POST, date_format=code)
        if form.is_valid():
            data = form.cleaned_data
            site = m.Site.objects.get(code=site_code)
            built: Built = build_screening(data, [])
            try:
                with transaction.atomic():
                    # the patient and his screening stand or fall together
                    patient = register_patient(
                        site,
                        data["study_id"].strip(),
                        sex=data["sex"],
                        age_at_screening=data["age_at_screening"],
                        diagnosis_date=data["diagnosis_date"].strip(),
                        liver_surgery_date=data["liver_surgery_date"].strip(),
                        actor=actor_of(request),
                        reason="patient enrolled",
                    )
                    record_event(
                        patient,
                        built.event,
                        actor=actor_of(request),
                        justification=data.get("justification") or None,
                    )
            except IntegrityError:
                form.add_error(
                    "study_id",
                    _("Study id %(id)s is already used at site %(site)s.")
                    % {"id": data["study_id"], "site": site_code},
                )
            except JustificationRequiredError as exc:
                loose = [
                    engine_text(d.description_key, d.params, d.description, code)
                    for d in exc.deviations
                ]
                form.add_error(
                    "justification",
                    _("This screening breaks the protocol: explain why to record it."),
                )
            except EventError as exc:
                text = str(exc)
                if text.startswith("patient"):
                    for line in text.splitlines()[1:]:
                        path, _sep, msg = line.strip().partition(": ")
                        if path in form.fields:
                            form.add_error(path, msg)
                        else:
                            loose.append(line.strip())
                else:
                    loose = place_errors(text, form, None, built)
            else:
                messages.success(
                    request,
                    _("Patient %(id)s enrolled at site %(site)s.")
                    % {"id": patient.study_id, "site": site_code},
                )
                return redirect("web:patient", pk=patient.pk)
        status = 422
    else:
        form = EnrolForm(date_format=code, initial={"date": date.today()})
    return render(
        request,
        "web/enrol.html",
        {
            "form": form,
            "sites": sites,
            "site_code": site_code,
            "loose_errors": loose,
            "summary": error_summary(form),
            "date_placeholder": placeholder(code),
            "event_fields": [form[n] for n in form.fields if n != "justification"],
        },
        status=status,
    )


@signed_in
def randomize_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Randomize the patient (an investigator of his site): the arm is shown once assigned."""
    patient = patient_or_404(request, pk)
    if not can_randomize(request.user, patient.site.code):
        raise PermissionDenied(_("only an investigator of the patient's site randomizes"))
    allowed, why = randomization_status(patient)
    form = RandomizeForm(request.POST if request.method == "POST" else None)
    error = ""
    deviations: list[Any] = []
    status = 200
    if request.method == "POST" and allowed and form.is_valid():
        try:
            result = randomize(
                patient,
                actor=actor_of(request),
                justification=form.cleaned_data.get("justification") or None,
            )
        except JustificationRequiredError as exc:
            deviations = list(exc.deviations)
            form.add_error(
                "justification", _("This randomization breaks the protocol: explain why.")
            )
            status = 422
        except (RandomizationError, EventError) as exc:
            error = str(exc)
            status = 409
        else:
            arm = result.evaluation.arm or ""
            messages.success(
                request,
                _("Patient %(id)s is randomized to the %(arm)s arm.")
                % {"id": patient.study_id, "arm": arm},
            )
            return redirect("web:patient", pk=patient.pk)
    elif request.method == "POST":
        status = 409 if not allowed else 422
    return render(
        request,
        "web/entry_randomize.html",
        {
            "patient": patient,
            "form": form,
            "allowed": allowed,
            "why": why,
            "error": error,
            "deviations": deviations,
        },
        status=status,
    )
