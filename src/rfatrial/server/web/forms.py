"""The data-entry forms, one per kind of event (and the enrolment form).

The forms check types and required fields; the kernel's schema and the protocol check the rest when
the event is recorded (:mod:`rfatrial.server.web.entry` puts their messages beside the fields).
Every date is typed in the site's format (:class:`~rfatrial.server.web.dates.SiteDateField`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.utils.functional import lazy
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _

from rfatrial.server.study import models as m
from rfatrial.server.web.dates import DEFAULT_FORMAT, SiteDateField
from rfatrial.server.web.terms import term

__all__ = [
    "AGENT_UNITS",
    "CTCAE_TERMS",
    "LAB_FIELDS",
    "REGIMENS",
    "AblationForm",
    "AdverseEventForm",
    "AgentForm",
    "CycleForm",
    "DeathForm",
    "EnrolForm",
    "EventForm",
    "FollowUpForm",
    "ImagingForm",
    "LabForm",
    "LostForm",
    "MeasurementForm",
    "PostRfaForm",
    "PostRfaRowForm",
    "RandomizeForm",
    "RfaForm",
    "ScreeningForm",
    "WithdrawalForm",
]

AGENT_UNITS = m.DOSE_UNITS


_term = lazy(term, str)


def _choices(values: list[tuple[str, str]], blank: bool = False) -> list[tuple[str, Any]]:
    """The choices of a model field, each named in the user's language (``wild_type``)."""
    return ([("", "—")] if blank else []) + [(code, _term(code)) for code, _label in values]


def _dates_in(form: forms.Form, code: str) -> None:
    for f in form.fields.values():
        if isinstance(f, SiteDateField):
            f.use_format(code)


class EventForm(forms.Form):
    """What every event has: its date, and a justification when it departs from the protocol.

    ``amending`` adds the reason for the change (required) and the version the record was read at
    (optimistic locking).
    """

    date = SiteDateField(label=_("Date"), help_text=_("The day it happened."))
    justification = forms.CharField(
        label=_("Justification"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why this event departs from the protocol (required when it breaks a rule)."),
    )

    def __init__(
        self,
        *args: Any,
        date_format: str = DEFAULT_FORMAT,
        amending: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _dates_in(self, date_format)
        if amending:
            self.fields["reason"] = forms.CharField(
                label=_("Reason for change"),
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text=_("Kept in the audit trail with the old and the new values."),
                error_messages={"required": _("Say why the record is changed.")},
            )
            self.fields["version"] = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class ScreeningForm(EventForm):
    consent_date = SiteDateField(label=_("Date of written consent"))
    eligible = forms.TypedChoiceField(
        label=_("Eligibility confirmed"),
        choices=[
            ("true", _("yes, eligible")),
            ("false", _("no")),
        ],
        coerce=lambda v: v == "true",
        help_text=_("Every inclusion criterion met, no exclusion criterion (the investigator)."),
    )
    liver_lesion_count = forms.IntegerField(label=_("Liver lesions"), min_value=0)
    ras_status = forms.ChoiceField(
        label=_("RAS status"), choices=_choices(m.RAS), initial="unknown"
    )
    braf_status = forms.ChoiceField(
        label=_("BRAF status"), choices=_choices(m.RAS), initial="unknown", required=False
    )
    ecog = forms.TypedChoiceField(
        label=_("ECOG performance status"),
        choices=_choices([(str(i), str(i)) for i in range(5)], blank=True),
        coerce=int,
        required=False,
        empty_value=None,
    )
    extrahepatic_disease = forms.BooleanField(label=_("Extrahepatic disease"), required=False)


class EnrolForm(ScreeningForm):
    """A new patient and the screening that enrols him, in one step."""

    field_order: ClassVar[list[str]] = [
        "study_id",
        "sex",
        "age_at_screening",
        "diagnosis_date",
        "liver_surgery_date",
        "date",
        "consent_date",
        "eligible",
        "liver_lesion_count",
        "ras_status",
        "braf_status",
        "ecog",
        "extrahepatic_disease",
    ]
    study_id = forms.CharField(
        label=_("Study id"),
        max_length=32,
        help_text=_("The site's study number, never a name or a hospital number."),
    )
    sex = forms.ChoiceField(label=_("Sex"), choices=_choices(m.SEX, blank=True))
    age_at_screening = forms.IntegerField(label=_("Age at screening (years)"))
    diagnosis_date = forms.CharField(
        label=_("Diagnosis of the primary"),
        required=False,
        max_length=10,
        help_text=_("Year, year-month or full date: 2019, 2019-04 or 2019-04-17."),
    )
    liver_surgery_date = forms.CharField(
        label=_("Surgery of the liver metastases"),
        required=False,
        max_length=10,
        help_text=_("Year, year-month or full date: 2019, 2019-04 or 2019-04-17."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date"].label = _("Screening date")

    def _partial_date(self, name: str) -> str:
        value = str(self.cleaned_data.get(name) or "").strip()
        if value:
            m.validate_partial_date(value)
        return value

    def clean_diagnosis_date(self) -> str:
        return self._partial_date("diagnosis_date")

    def clean_liver_surgery_date(self) -> str:
        return self._partial_date("liver_surgery_date")


class RandomizeForm(forms.Form):
    justification = forms.CharField(
        label=_("Justification"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why the randomization departs from the protocol (when it does)."),
    )


REGIMENS = ["FOLFOX", "FOLFIRI", "CAPOX", "FOLFOXIRI", "FOLFOX + bevacizumab"]


class CycleForm(EventForm):
    regimen = forms.CharField(
        label=_("Regimen"),
        max_length=64,
        widget=forms.TextInput(attrs={"list": "regimens"}),
        initial="FOLFOX",
    )
    line = forms.IntegerField(label=_("Line"), min_value=1, max_value=10, initial=1)


class AgentForm(forms.Form):
    name = forms.CharField(label=_("Agent"), max_length=64, required=False)
    dose = forms.FloatField(label=_("Dose"), required=False)
    unit = forms.ChoiceField(label=_("Unit"), choices=AGENT_UNITS, required=False)


class ImagingForm(EventForm):
    modality = forms.ChoiceField(label=_("Modality"), choices=_choices(m.MODALITIES), initial="CT")
    purpose = forms.ChoiceField(
        label=_("Purpose"), choices=_choices(m.PURPOSES), initial="response"
    )
    local_progression = forms.CharField(
        label=_("Local progression"),
        required=False,
        help_text=_("Lesion ids with local progression, comma-separated."),
    )
    non_target_progression = forms.BooleanField(label=_("Non-target progression"), required=False)
    extrahepatic_progression = forms.BooleanField(
        label=_("Extrahepatic progression"), required=False
    )


class MeasurementForm(forms.Form):
    lesion_id = forms.CharField(label=_("Lesion"), max_length=32, required=False)
    segment = forms.ChoiceField(
        label=_("Segment"), choices=_choices(m.SEGMENTS, blank=True), required=False
    )
    diameter_mm = forms.FloatField(label=_("Diameter (mm)"), required=False)
    too_small_to_measure = forms.BooleanField(label=_("Too small to measure"), required=False)
    us_visible = forms.NullBooleanField(label=_("Seen on US"), required=False)
    distance_to_vessel_mm = forms.FloatField(label=_("To a large vessel (mm)"), required=False)
    is_new = forms.BooleanField(label=_("New"), required=False)


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
    ascites = forms.ChoiceField(
        label=_("Ascites"), choices=_choices(m.ASCITES, blank=True), required=False
    )
    encephalopathy = forms.ChoiceField(
        label=_("Encephalopathy"), choices=_choices(m.ENCEPHALOPATHY, blank=True), required=False
    )

    def __init__(self, *args: Any, ulns: dict[str, float] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ulns = ulns or {}
        for analyte, _label, unit, uln in LAB_FIELDS:
            self.fields[analyte] = forms.FloatField(
                required=False, label=format_lazy("{} ({})", capfirst(_term(analyte)), unit)
            )
            if uln is not None:
                self.fields[f"{analyte}_uln"] = forms.FloatField(
                    required=False,
                    label=format_lazy("{} ULN", capfirst(_term(analyte))),
                    initial=ulns.get(analyte, uln),
                )

    def lab_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "label": capfirst(term(analyte)),
                "unit": unit,
                "value": self[analyte],
                "uln": self[f"{analyte}_uln"] if uln is not None else None,
            }
            for analyte, _label, unit, uln in LAB_FIELDS
        ]


class RfaForm(EventForm):
    complication = forms.CharField(
        label=_("Complication"),
        required=False,
        max_length=2000,
        help_text=_("A complication of the session, if any."),
    )
    cirse_grade = forms.TypedChoiceField(
        label=_("CIRSE 2017 grade"),
        choices=_choices([(str(i), str(i)) for i in range(1, 7)], blank=True),
        coerce=int,
        required=False,
        empty_value=None,
    )
    clavien_dindo = forms.ChoiceField(
        label=_("Clavien-Dindo grade"),
        choices=_choices(m.CLAVIEN_DINDO, blank=True),
        required=False,
    )
    complication_onset = SiteDateField(label=_("Onset of the complication"), required=False)


class AblationForm(forms.Form):
    ablated = forms.BooleanField(label=_("Ablated"), required=False)
    lesion_id = forms.CharField(label=_("Lesion"), max_length=32, required=False)
    technical_success = forms.BooleanField(
        label=_("Technical success"), required=False, initial=True
    )
    margin_mm = forms.FloatField(label=_("Margin (mm)"), required=False)
    electrode = forms.CharField(label=_("Electrode"), max_length=64, required=False)
    power_w = forms.FloatField(label=_("Power (W)"), required=False)
    time_min = forms.FloatField(label=_("Time (min)"), required=False)


class PostRfaForm(EventForm):
    modality = forms.ChoiceField(
        label=_("Modality"), choices=[("CT", "CT"), ("MRI", "MRI")], initial="CT"
    )
    extrahepatic_progression = forms.BooleanField(
        label=_("Extrahepatic progression"), required=False
    )


POST_RFA_ROW_OUTCOMES = [
    ("", "—"),
    ("complete", _("complete ablation")),
    ("residual", _("residual tumour")),
    ("new", _("new lesion")),
]


class PostRfaRowForm(forms.Form):
    lesion_id = forms.CharField(label=_("Lesion"), max_length=32, required=False)
    outcome = forms.ChoiceField(label=_("Finding"), choices=POST_RFA_ROW_OUTCOMES, required=False)
    diameter_mm = forms.FloatField(label=_("Diameter of a new lesion (mm)"), required=False)
    segment = forms.ChoiceField(
        label=_("Segment"), choices=_choices(m.SEGMENTS, blank=True), required=False
    )


COMPONENTS = [
    ("us_ceus", _("US / CEUS")),
    ("ct_mri", _("CT / MRI")),
    ("labs", _("Labs")),
    ("tumour_markers", _("Tumour markers")),
    ("ecg", _("ECG")),
]


class FollowUpForm(EventForm):
    visit_id = forms.CharField(
        label=_("Visit"),
        max_length=16,
        widget=forms.TextInput(attrs={"list": "visits"}),
        help_text=_("The calendar's visit, e.g. M3 or M30-CT."),
    )
    components = forms.MultipleChoiceField(
        label=_("Done at the visit"),
        choices=COMPONENTS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


# Terms of CTCAE v5.0 most often met in this study (any other term may be typed).
CTCAE_TERMS = [
    "Abdominal pain",
    "Alanine aminotransferase increased",
    "Anemia",
    "Anorexia",
    "Aspartate aminotransferase increased",
    "Ascites",
    "Biliary fistula",
    "Blood bilirubin increased",
    "Diarrhea",
    "Fatigue",
    "Febrile neutropenia",
    "Fever",
    "Hemorrhage, intra-abdominal",
    "Hepatic failure",
    "Hepatic infection",
    "Hypertension",
    "Mucositis oral",
    "Nausea",
    "Neutrophil count decreased",
    "Pain",
    "Palmar-plantar erythrodysesthesia syndrome",
    "Peripheral sensory neuropathy",
    "Platelet count decreased",
    "Pleural effusion",
    "Pneumothorax",
    "Proteinuria",
    "Thromboembolic event",
    "Vomiting",
]

FATAL_GRADE = 5

RELATED_TO = [
    ("systemic", _("systemic therapy")),
    ("rfa", _("RFA")),
    ("none", _("neither")),
]


class AdverseEventForm(EventForm):
    term = forms.CharField(
        label=_("CTCAE v5.0 term"),
        max_length=128,
        widget=forms.TextInput(attrs={"list": "ctcae-terms"}),
    )
    grade = forms.TypedChoiceField(
        label=_("CTCAE grade"),
        choices=_choices([(str(i), str(i)) for i in range(1, 6)], blank=True),
        coerce=int,
        empty_value=None,
    )
    serious = forms.BooleanField(label=_("Serious"), required=False)
    related_to = forms.MultipleChoiceField(
        label=_("Related to"),
        choices=RELATED_TO,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    end_date = SiteDateField(label=_("End date"), required=False)
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=_choices(m.AE_OUTCOMES, blank=True), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date"].label = _("Onset date")

    def clean(self) -> dict[str, Any]:
        # CTCAE v5.0: grade 5 is death related to the event; a death is a serious event (ICH E2A).
        data = super().clean()
        grade, outcome = data.get("grade"), data.get("outcome")
        if grade == FATAL_GRADE and outcome != "fatal":
            self.add_error(
                "outcome", _("Grade 5 is death related to the event: the outcome is fatal.")
            )
        if outcome == "fatal" and grade is not None and grade != FATAL_GRADE:
            self.add_error("grade", _("A fatal outcome is grade 5."))
        if grade == FATAL_GRADE and not data.get("serious"):
            self.add_error("serious", _("An event that results in death is serious."))
        return data


class WithdrawalForm(EventForm):
    reason_given = forms.CharField(
        label=_("Reason for withdrawal"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    initiated_by = forms.ChoiceField(
        label=_("Initiated by"), choices=_choices(m.INITIATED_BY), initial="investigator"
    )


class DeathForm(EventForm):
    cause = forms.CharField(label=_("Cause of death"), max_length=256, initial="unknown")


class LostForm(EventForm):
    """Lost to follow-up: the date is all there is."""
