"""What the demo study shows of monitoring: the edit checks run over the loaded cohort, a few
queries of the monitor (one answered by the coordinator), vital signs (one pressure queried by
the edit checks), and the investigator's signature of one
patient's casebook. Done once (nothing is done when a query exists already)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from rfatrial.server.monitoring import queries, signing, vitals
from rfatrial.server.monitoring.edit_checks import run_edit_checks
from rfatrial.server.monitoring.models import Query
from rfatrial.server.monitoring.records import patient_records
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, audited

__all__ = ["seed_demo_monitoring"]

QUESTIONS = {
    "lab_panel": "Please confirm the units of the bilirubin against the laboratory report.",
    "imaging": "The lesion sizes differ from the radiology report: please check.",
    "systemic_cycle": "Was the dose reduced for this cycle? Please record the reason.",
}


def seed_demo_monitoring(password: str) -> int:
    """Open the demo's queries and sign one casebook; the number of queries opened."""
    if Query.objects.exists():
        return 0
    for patient in m.Patient.objects.select_related("site").order_by("pk"):
        with audited(Actor("edit check")) as audit:
            run_edit_checks(audit, patient)
    monitor, coordinator = Actor("monitor"), Actor("coordinator")
    site_one = list(m.Patient.objects.filter(site__code="S01").order_by("study_id")[:4])
    opened = []
    for patient in site_one[:3]:
        records = [r for r in patient_records(patient) if r.kind in QUESTIONS]
        if records:
            r = records[-1]
            opened.append(
                queries.open_query(r.row, text=QUESTIONS[r.kind], actor=monitor, roles={"monitor"})
            )
    for patient, systolic in zip(site_one[:2], (132, 232), strict=False):
        last = max((r.date for r in patient_records(patient)), default=None)
        if last is not None:  # an unusual pressure: the edit checks query it
            values = {"date": last.isoformat(), "systolic_bp_mmhg": systolic, "weight_kg": 71.5}
            vitals.record(patient, "vital_signs", values, actor=coordinator, today=last)
    if opened:
        queries.answer_query(
            opened[0],
            text="Checked against the source document: the values are right.",
            actor=coordinator,
            roles={"coordinator"},
        )
    investigator = get_user_model().objects.filter(username="investigator").first()
    if investigator is not None and site_one:
        signing.sign_casebook(
            site_one[-1],
            user=investigator,
            password=password,
            actor=Actor("investigator"),
            roles={"investigator"},
        )
    return Query.objects.count()
