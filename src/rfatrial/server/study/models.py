"""The study's tables: who (sites, roles), whom (patients, lesions), what happened (the clinical
records of the kernel's history), what the engine derived from it, and the audit trail.

Every table of study data derives from :class:`StudyRecord`: it has a ``version`` (optimistic
locking) and is written only through :mod:`rfatrial.server.study.audit`, which logs each create,
update and delete in the hash-chained :class:`AuditEntry`. Foreign keys between study records are
``PROTECT``: nothing is ever deleted as a side effect, each deletion is an audited act.

One kernel event is one row of an *event table* (:class:`EventRecord`: patient, ``seq``, date),
with its lists in child tables ordered by ``position``; ``seq`` is the event's place in the
patient's history, so the history reads back in the order it was written. Lesions are entities
(:class:`Lesion`, the persistent id "L1", "L2", ... of the kernel) referenced by measurements,
ablations and post-RFA results.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

# --- choices (the kernel's literals) ----------------------------------------------------------


class Role(models.TextChoices):
    INVESTIGATOR = "investigator"
    COORDINATOR = "coordinator"
    MONITOR = "monitor"
    DATA_MANAGER = "data_manager"
    STATISTICIAN = "statistician"
    ADMINISTRATOR = "administrator"


SEX = [("F", "F"), ("M", "M")]
ARMS = [("control", "control"), ("experimental", "experimental")]
RAS = [("wild_type", "wild type"), ("mutant", "mutant"), ("unknown", "unknown")]
MODALITIES = [(m, m) for m in ("CT", "MRI", "US", "CEUS", "PET")]
PURPOSES = [(p, p) for p in ("baseline", "response", "follow_up")]
SEGMENTS = [(s, s) for s in ("S1", "S2", "S3", "S4", "S4a", "S4b", "S5", "S6", "S7", "S8")]
DOSE_UNITS = [(u, u) for u in ("mg/m2", "mg/kg", "mg", "AUC")]
ASCITES = [(a, a) for a in ("none", "mild", "moderate_severe")]
ENCEPHALOPATHY = [(e, e) for e in ("none", "grade_1_2", "grade_3_4")]
CLAVIEN_DINDO = [(c, c) for c in ("I", "II", "IIIa", "IIIb", "IVa", "IVb", "V")]
POST_RFA_OUTCOMES = [("complete", "complete"), ("residual", "residual")]
AE_OUTCOMES = [(o, o) for o in ("recovered", "recovering", "not_recovered", "sequelae", "fatal")]
INITIATED_BY = [("patient", "patient"), ("investigator", "investigator")]

_PARTIAL_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


def validate_partial_date(value: str) -> None:
    """A date known to the year, the month or the day: ``2019``, ``2019-04``, ``2019-04-17``."""
    if not _PARTIAL_DATE.match(value):
        raise ValidationError(f"'{value}' is not a partial date (YYYY, YYYY-MM or YYYY-MM-DD)")


def _partial_date_field(help_text: str) -> Any:
    return models.CharField(
        max_length=10,
        blank=True,
        default="",
        validators=[validate_partial_date],
        help_text=help_text,
    )


# --- the base of study data -------------------------------------------------------------------


class StudyRecord(models.Model):
    """A row of study data: versioned, audited, never changed behind the audit trail."""

    version = models.PositiveIntegerField(default=1)

    class Meta:
        abstract = True


# --- sites, people, roles ---------------------------------------------------------------------


class Site(StudyRecord):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200, blank=True, default="")

    def __str__(self) -> str:
        return self.code


class SiteRole(StudyRecord):
    """One role of one person at one site; a person may hold roles at several sites."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="site_roles"
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="roles")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["user", "site", "role"], name="siterole_unique")
        ]


class SiteNormalRange(StudyRecord):
    """The site laboratory's normal range of one analyte (offered when a result is entered)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="normal_ranges")
    analyte = models.CharField(max_length=32)
    unit = models.CharField(max_length=16)
    sex = models.CharField(max_length=1, choices=SEX, blank=True, default="")
    lln = models.FloatField(null=True, blank=True)
    uln = models.FloatField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["site", "analyte", "sex"], name="normalrange_unique")
        ]


# --- patients and lesions ---------------------------------------------------------------------


class Patient(StudyRecord):
    """A study participant: a study id at a site and as few direct identifiers as possible."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    study_id = models.CharField(max_length=32)
    sex = models.CharField(max_length=1, choices=SEX)
    age_at_screening = models.PositiveSmallIntegerField()
    diagnosis_date = _partial_date_field("Diagnosis of the primary colorectal cancer.")
    liver_surgery_date = _partial_date_field("Surgery of the liver metastases.")

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["site", "study_id"], name="patient_study_id_per_site")
        ]

    def __str__(self) -> str:
        return self.study_id


class Lesion(StudyRecord):
    """One lesion followed by its persistent id ("L1") from scan to ablation to follow-up."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="lesions")
    label = models.CharField(max_length=32)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["patient", "label"], name="lesion_label_per_patient")
        ]


# --- clinical events --------------------------------------------------------------------------


class EventRecord(StudyRecord):
    """One event of the patient's history. ``seq`` is its place in the history.

    ``justification`` explains a real event that breaks a protocol rule; for an RFA session it is
    the kernel's own field, for other events the study database keeps it beside the history.
    """

    kind: ClassVar[str]
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveIntegerField()
    date = models.DateField()
    justification = models.TextField(null=True, blank=True)

    class Meta:
        abstract = True
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["patient", "seq"], name="%(class)s_seq_per_patient")
        ]


class Screening(EventRecord):
    kind = "screening"
    consent_date = models.DateField()
    eligible = models.BooleanField()
    liver_lesion_count = models.PositiveSmallIntegerField()
    ras_status = models.CharField(max_length=16, choices=RAS, default="unknown")
    braf_status = models.CharField(max_length=16, choices=RAS, default="unknown")
    ecog = models.PositiveSmallIntegerField(null=True, blank=True)
    extrahepatic_disease = models.BooleanField(default=False)


class Randomization(EventRecord):
    kind = "randomization"
    arm = models.CharField(max_length=16, choices=ARMS)
    stratum = models.JSONField(default=dict, blank=True)


class SystemicCycle(EventRecord):
    kind = "systemic_cycle"
    regimen = models.CharField(max_length=64)
    line = models.PositiveSmallIntegerField(default=1)


class CycleAgent(StudyRecord):
    cycle = models.ForeignKey(SystemicCycle, on_delete=models.PROTECT, related_name="agents")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=64)
    dose = models.FloatField()
    unit = models.CharField(max_length=8, choices=DOSE_UNITS)


class ImagingAssessment(EventRecord):
    kind = "imaging"
    modality = models.CharField(max_length=8, choices=MODALITIES)
    purpose = models.CharField(max_length=16, choices=PURPOSES, default="response")
    non_target_progression = models.BooleanField(default=False)
    extrahepatic_progression = models.BooleanField(default=False)
    visit_id = models.TextField(null=True, blank=True)


class PostRfaScan(EventRecord):
    kind = "post_rfa_scan"
    modality = models.CharField(max_length=8, choices=MODALITIES)
    extrahepatic_progression = models.BooleanField(default=False)


class LesionMeasurement(StudyRecord):
    """A lesion seen on a scan (measured, or new), on an imaging assessment or a post-RFA scan."""

    imaging = models.ForeignKey(
        ImagingAssessment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    post_rfa_scan = models.ForeignKey(
        PostRfaScan, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_new = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField()
    lesion = models.ForeignKey(Lesion, on_delete=models.PROTECT, related_name="measurements")
    organ = models.CharField(max_length=32, default="liver")
    segment = models.CharField(max_length=4, choices=SEGMENTS, null=True, blank=True)
    diameter_mm = models.FloatField(null=True, blank=True)
    is_node = models.BooleanField(default=False)
    too_small_to_measure = models.BooleanField(default=False)
    us_visible = models.BooleanField(null=True, blank=True)
    distance_to_vessel_mm = models.FloatField(null=True, blank=True)
    distance_to_critical_mm = models.FloatField(null=True, blank=True)
    margin_achievable_mm = models.FloatField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.CheckConstraint(
                condition=(
                    models.Q(imaging__isnull=False, post_rfa_scan__isnull=True)
                    | models.Q(imaging__isnull=True, post_rfa_scan__isnull=False, is_new=True)
                ),
                name="measurement_on_one_scan",
            )
        ]


class LocalProgression(StudyRecord):
    """A lesion with local tumour progression reported by an imaging assessment."""

    imaging = models.ForeignKey(ImagingAssessment, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    lesion = models.ForeignKey(Lesion, on_delete=models.PROTECT, related_name="+")


class PostRfaResult(StudyRecord):
    """Technique efficacy of one ablated lesion on the 1-month scan."""

    scan = models.ForeignKey(PostRfaScan, on_delete=models.PROTECT, related_name="results")
    position = models.PositiveSmallIntegerField()
    lesion = models.ForeignKey(Lesion, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=8, choices=POST_RFA_OUTCOMES)


class LabPanel(EventRecord):
    kind = "lab_panel"
    ascites = models.CharField(max_length=16, choices=ASCITES, null=True, blank=True)
    encephalopathy = models.CharField(max_length=16, choices=ENCEPHALOPATHY, null=True, blank=True)


class LabResult(StudyRecord):
    """One value with its unit and the normal limits the site reported with it."""

    panel = models.ForeignKey(LabPanel, on_delete=models.PROTECT, related_name="results")
    position = models.PositiveSmallIntegerField()
    analyte = models.CharField(max_length=32)
    value = models.FloatField()
    unit = models.CharField(max_length=16, blank=True)
    lln = models.FloatField(null=True, blank=True)
    uln = models.FloatField(null=True, blank=True)


class RfaSession(EventRecord):
    kind = "rfa_session"


class AblationRecord(StudyRecord):
    """One lesion ablated in a session: electrode, power, time, margin, technical success."""

    session = models.ForeignKey(RfaSession, on_delete=models.PROTECT, related_name="ablations")
    position = models.PositiveSmallIntegerField()
    lesion = models.ForeignKey(Lesion, on_delete=models.PROTECT, related_name="ablations")
    technical_success = models.BooleanField(default=True)
    margin_mm = models.FloatField(null=True, blank=True)
    electrode = models.TextField(null=True, blank=True)
    power_w = models.FloatField(null=True, blank=True)
    time_min = models.FloatField(null=True, blank=True)


class RfaComplication(StudyRecord):
    """A complication of a session, graded CIRSE 2017 and Clavien-Dindo."""

    session = models.ForeignKey(RfaSession, on_delete=models.PROTECT, related_name="complications")
    position = models.PositiveSmallIntegerField()
    description = models.TextField()
    cirse_grade = models.PositiveSmallIntegerField()
    clavien_dindo = models.CharField(max_length=4, choices=CLAVIEN_DINDO, null=True, blank=True)
    onset_date = models.DateField(null=True, blank=True)


class FollowUpVisit(EventRecord):
    kind = "follow_up_visit"
    visit_id = models.CharField(max_length=16)
    components = models.JSONField(default=list, blank=True)


class AdverseEvent(EventRecord):
    """CTCAE v5.0 term and grade, seriousness, relatedness (systemic, rfa, none), end, outcome."""

    kind = "adverse_event"
    term = models.CharField(max_length=128)
    grade = models.PositiveSmallIntegerField()
    serious = models.BooleanField(default=False)
    related_to = models.JSONField(default=list, blank=True)
    end_date = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AE_OUTCOMES, null=True, blank=True)


class Withdrawal(EventRecord):
    kind = "withdrawal"
    reason = models.TextField()
    initiated_by = models.CharField(max_length=16, choices=INITIATED_BY, default="investigator")


class Death(EventRecord):
    kind = "death"
    cause = models.CharField(max_length=256, default="unknown")


class LostToFollowUp(EventRecord):
    kind = "lost_to_follow_up"


# --- what the engine derived (recomputed at every write; not audited) -------------------------


class PatientState(models.Model):
    """The kernel's evaluation of the patient after the last write."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="state")
    evaluated_on = models.DateField()
    evaluated_at = models.DateTimeField()
    protocol_version = models.CharField(max_length=64)
    arm = models.CharField(max_length=16, null=True, blank=True)
    phase = models.CharField(max_length=32)
    cycles_given = models.PositiveIntegerField(default=0)
    rfa_sessions_done = models.PositiveSmallIntegerField(default=0)
    rfa_stopped = models.TextField(null=True, blank=True)
    liver_ned = models.BooleanField(default=False)
    evaluation = models.JSONField(default=dict)


class NextAction(models.Model):
    """Something due for the patient, with its window (one row per action of the evaluation)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="next_actions")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=32)
    what = models.TextField()
    why = models.TextField()
    # the kernel's message ids and their parameters, to show what and why in the user's language
    what_key = models.CharField(max_length=64, blank=True, default="")
    why_key = models.CharField(max_length=64, blank=True, default="")
    params = models.JSONField(default=dict, blank=True)
    rule = models.CharField(max_length=128)
    earliest = models.DateField()
    target = models.DateField()
    latest = models.DateField()
    overdue = models.BooleanField(default=False)
    session = models.PositiveSmallIntegerField(null=True, blank=True)
    visit_id = models.CharField(max_length=32, null=True, blank=True)
    lesions = models.JSONField(default=list, blank=True)

    class Meta:
        indexes: ClassVar[list[Any]] = [models.Index(fields=["kind", "target"])]


class Deviation(models.Model):
    """A protocol rule that the recorded history breaks, tied to its event when there is one."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="deviations")
    position = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=64)
    date = models.DateField()
    description = models.TextField()
    description_key = models.CharField(max_length=64, blank=True, default="")
    params = models.JSONField(default=dict, blank=True)
    rule = models.CharField(max_length=128)
    event_kind = models.CharField(max_length=32, null=True, blank=True)
    event_seq = models.PositiveIntegerField(null=True, blank=True)
    justification = models.TextField(null=True, blank=True)

    class Meta:
        indexes: ClassVar[list[Any]] = [models.Index(fields=["code"])]


# --- the audit trail --------------------------------------------------------------------------


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("the audit trail is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("the audit trail is append-only")


class AuditEntry(models.Model):
    """One create, update or delete of one study record, chained to the previous entry.

    ``changes`` is the canonical JSON ``{field: [old, new]}`` (every field for a create or a
    delete); ``hash`` is the SHA-256 of the entry's fields and ``prev_hash``
    (:func:`rfatrial.server.study.audit.entry_hash`).
    """

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    ip = models.CharField(max_length=45, blank=True, default="")
    action = models.CharField(max_length=8)
    table = models.CharField(max_length=64)
    record_id = models.BigIntegerField()
    reason = models.TextField(blank=True, default="")
    changes = models.TextField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["table", "record_id", "seq"], name="audit_record_idx")
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("the audit trail is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("the audit trail is append-only")


class AuditHead(models.Model):
    """The last entry of the chain (one row): appends lock it, so the chain never forks."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)


# --- vital signs and ECG (server records, not events of the kernel's history) ------------------

ECG_RHYTHMS = [
    (r, r.replace("_", " "))
    for r in ("sinus", "atrial_fibrillation", "atrial_flutter", "paced", "other")
]


class VitalSigns(StudyRecord):
    """Vital signs taken at a visit; any measurement may be missing, none may be impossible."""

    kind: ClassVar[str] = "vital_signs"
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    date = models.DateField()
    systolic_bp_mmhg = models.PositiveSmallIntegerField(
        "systolic blood pressure", null=True, blank=True
    )
    diastolic_bp_mmhg = models.PositiveSmallIntegerField(
        "diastolic blood pressure", null=True, blank=True
    )
    heart_rate_per_min = models.PositiveSmallIntegerField("heart rate", null=True, blank=True)
    temperature_c = models.FloatField("temperature", null=True, blank=True)
    weight_kg = models.FloatField("weight", null=True, blank=True)
    height_cm = models.FloatField("height", null=True, blank=True)
    spo2_percent = models.PositiveSmallIntegerField("SpO2", null=True, blank=True)


class Ecg(StudyRecord):
    """A 12-lead ECG: rhythm, rate, intervals and the investigator's reading of it."""

    kind: ClassVar[str] = "ecg"
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    date = models.DateField()
    rhythm = models.CharField(max_length=32, choices=ECG_RHYTHMS)
    heart_rate_per_min = models.PositiveSmallIntegerField("heart rate")
    qtcf_ms = models.PositiveSmallIntegerField("QTcF", null=True, blank=True)
    pr_ms = models.PositiveSmallIntegerField("PR interval", null=True, blank=True)
    qrs_ms = models.PositiveSmallIntegerField("QRS duration", null=True, blank=True)
    clinically_significant = models.BooleanField(
        "clinically significant abnormality", default=False
    )
    abnormality = models.TextField(blank=True, default="")
