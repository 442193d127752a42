"""A simulated care team: follows the engine's next actions for one virtual patient.

The loop asks the engine what is due, does the most urgent action on a date inside its window,
records what a real team would record (a cycle, a scan with measurements, a lab panel, a session,
a visit), and asks again. With a compliant team the history it writes breaks no rule, so the
engine must find no deviation in it: the engine and the schedule are tested against each other.

Examples
--------
>>> import random
>>> from datetime import date
>>> from rfatrial.kernel.protocol import default_protocol
>>> h = simulate_patient("S01-001", "S01", "experimental", random.Random(7), default_protocol(),
...                      start=date(2026, 1, 5), horizon_days=400)
>>> h.events[1].type
'imaging'
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from rfatrial.kernel.evaluation import NextAction
from rfatrial.kernel.history import PatientHistory
from rfatrial.kernel.pathway import evaluate
from rfatrial.kernel.protocol import Protocol

__all__ = ["PatientModel", "simulate_patient"]

_SEGMENTS = ("S2", "S3", "S4a", "S4b", "S5", "S6", "S7", "S8")
_AE_TERMS = (
    ("Neutrophil count decreased", 2),
    ("Neutrophil count decreased", 3),
    ("Peripheral sensory neuropathy", 1),
    ("Diarrhea", 2),
    ("Fatigue", 1),
    ("Platelet count decreased", 1),
)
_REGIMENS: dict[str, list[dict[str, Any]]] = {
    "FOLFOX": [
        {"name": "oxaliplatin", "dose": 85, "unit": "mg/m2"},
        {"name": "leucovorin", "dose": 400, "unit": "mg/m2"},
        {"name": "fluorouracil", "dose": 2400, "unit": "mg/m2"},
    ],
    "FOLFIRI": [
        {"name": "irinotecan", "dose": 180, "unit": "mg/m2"},
        {"name": "leucovorin", "dose": 400, "unit": "mg/m2"},
        {"name": "fluorouracil", "dose": 2400, "unit": "mg/m2"},
    ],
    "CAPOX": [
        {"name": "oxaliplatin", "dose": 130, "unit": "mg/m2"},
        {"name": "capecitabine", "dose": 1000, "unit": "mg/m2"},
    ],
}


@dataclass(slots=True)
class PatientModel:
    """The hidden course of a virtual patient (a small model; the full one has its own module)."""

    shrink_per_scan: float = 0.85
    progression_per_scan: float = 0.08
    gate_failure: float = 0.15
    residual_after_rfa: float = 0.08
    new_lesion_per_scan: float = 0.05
    monthly_death: float = 0.005
    monthly_dropout: float = 0.002
    adverse_event_per_cycle: float = 0.2


@dataclass(slots=True)
class _State:
    rng: random.Random
    model: PatientModel
    regimen: str
    bevacizumab: bool
    sizes: dict[str, float] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)
    ablated: set[str] = field(default_factory=set)
    sessions: list[list[str]] = field(default_factory=list)
    next_id: int = 1
    progressed: bool = False

    def new_lesion(self) -> str:
        lid = f"L{self.next_id}"
        self.next_id += 1
        self.sizes[lid] = round(self.rng.uniform(8, 35), 1)
        self.segments[lid] = self.rng.choice(_SEGMENTS)
        return lid

    def measurement(self, lid: str) -> dict[str, Any]:
        return {
            "lesion_id": lid,
            "organ": "liver",
            "segment": self.segments[lid],
            "diameter_mm": self.sizes[lid],
            "us_visible": True,
        }


def _labs(day: date, ok: bool, rng: random.Random) -> dict[str, Any]:
    platelets = rng.uniform(120, 300) if ok else rng.uniform(20, 45)
    return {
        "type": "lab_panel",
        "date": day.isoformat(),
        "results": [
            {"analyte": "platelets", "value": round(platelets), "unit": "10^9/L"},
            {"analyte": "neutrophils", "value": round(rng.uniform(2.0, 5.0), 1), "unit": "10^9/L"},
            {"analyte": "hemoglobin", "value": round(rng.uniform(10.5, 14), 1), "unit": "g/dL"},
            {"analyte": "inr", "value": round(rng.uniform(0.9, 1.2), 2), "unit": "ratio"},
            {
                "analyte": "bilirubin",
                "value": round(rng.uniform(5, 18)),
                "unit": "µmol/L",
                "uln": 21,
            },
            {"analyte": "alt", "value": round(rng.uniform(15, 60)), "unit": "U/L", "uln": 40},
            {"analyte": "ast", "value": round(rng.uniform(15, 60)), "unit": "U/L", "uln": 40},
            {"analyte": "albumin", "value": round(rng.uniform(36, 45)), "unit": "g/L"},
            {
                "analyte": "creatinine",
                "value": round(rng.uniform(55, 95)),
                "unit": "µmol/L",
                "uln": 106,
            },
        ],
        "ascites": "none",
        "encephalopathy": "none",
    }


def _perform(a: NextAction, day: date, s: _State, arm: str) -> list[dict[str, Any]]:
    rng, d = s.rng, day.isoformat()
    if a.kind == "randomize":
        return [{"type": "randomization", "date": d, "arm": arm}]
    if a.kind == "systemic_cycle":
        agents = [dict(x) for x in _REGIMENS[s.regimen]]
        if s.bevacizumab:
            agents.append({"name": "bevacizumab", "dose": 5, "unit": "mg/kg"})
        out: list[dict[str, Any]] = [
            _labs(day, True, rng),  # pre-cycle labs, drawn the same morning
            {"type": "systemic_cycle", "date": d, "regimen": s.regimen, "agents": agents},
        ]
        if rng.random() < s.model.adverse_event_per_cycle:
            term, grade = rng.choice(_AE_TERMS)
            out.append(
                {
                    "type": "adverse_event",
                    "date": d,
                    "term": term,
                    "grade": grade,
                    "serious": grade >= 3,
                    "related_to": ["systemic"],
                }
            )
        return out
    if a.kind == "response_scan":
        progress = rng.random() < s.model.progression_per_scan
        new = []
        for lid in s.sizes:
            if lid not in s.ablated:
                factor = rng.uniform(1.25, 1.5) if progress else s.model.shrink_per_scan
                s.sizes[lid] = round(max(5.0, s.sizes[lid] * factor), 1)
        if not progress and rng.random() < s.model.new_lesion_per_scan:
            new.append(s.measurement(s.new_lesion()))
        s.progressed = s.progressed or progress
        return [
            {
                "type": "imaging",
                "date": d,
                "modality": "CT",
                "purpose": "response",
                "lesions": [
                    s.measurement(x)
                    for x in s.sizes
                    if x not in s.ablated and not any(n["lesion_id"] == x for n in new)
                ],
                "new_lesions": new,
            }
        ]
    if a.kind == "pre_rfa_labs":
        return [_labs(day, rng.random() >= s.model.gate_failure, rng)]
    if a.kind == "rfa_session":
        chosen = list(a.lesions[:6])
        s.ablated.update(chosen)
        s.sessions.append(chosen)
        return [
            {
                "type": "rfa_session",
                "date": d,
                "lesions": [
                    {
                        "lesion_id": x,
                        "technical_success": True,
                        "margin_mm": round(rng.uniform(5, 12), 1),
                    }
                    for x in chosen
                ],
                **({} if len(chosen) >= 2 else {"justification": "fewer lesions remained"}),
            }
        ]
    if a.kind == "post_rfa_scan":
        results = []
        for lid in s.sessions[(a.session or len(s.sessions)) - 1]:
            residual = rng.random() < s.model.residual_after_rfa
            if residual:
                s.ablated.discard(lid)
            results.append({"lesion_id": lid, "outcome": "residual" if residual else "complete"})
        return [{"type": "post_rfa_scan", "date": d, "modality": "CT", "results": results}]
    if a.kind == "follow_up_visit":
        components = list(a.what.split(": ", 1)[1].split(", "))
        return [
            {"type": "follow_up_visit", "date": d, "visit_id": a.visit_id, "components": components}
        ]
    if a.kind == "confirm_withdrawal":
        return [{"type": "withdrawal", "date": d, "reason": "pre-RFA lab gate failed past limit"}]
    raise ValueError(f"unknown action kind {a.kind}")


def simulate_patient(
    patient_id: str,
    site: str,
    arm: str,
    rng: random.Random,
    protocol: Protocol,
    *,
    start: date,
    horizon_days: int,
    model: PatientModel | None = None,
) -> PatientHistory:
    """Write the history of one virtual patient followed by a compliant care team.

    Parameters
    ----------
    patient_id, site, arm
        Who, where, and the arm the patient will be randomized to.
    rng
        The random source; the same seed gives the same history.
    protocol
        The protocol whose next actions the team follows.
    start, horizon_days
        The screening date and how long to follow the patient.
    """
    model = model or PatientModel()
    s = _State(rng, model, rng.choice(tuple(_REGIMENS)), rng.random() < 0.3)
    n_lesions = rng.randint(2, 12)
    for _ in range(n_lesions):
        s.new_lesion()
    head: dict[str, Any] = {
        "patient_id": patient_id,
        "site": site,
        "sex": rng.choice("FM"),
        "age_at_screening": rng.randint(35, 80),
    }
    events: list[dict[str, Any]] = [
        {
            "type": "screening",
            "date": start.isoformat(),
            "consent_date": start.isoformat(),
            "eligible": True,
            "liver_lesion_count": n_lesions,
            "ras_status": rng.choice(("wild_type", "mutant", "unknown")),
        },
        {
            "type": "imaging",
            "date": start.isoformat(),
            "modality": "CT",
            "purpose": "baseline",
            "lesions": [s.measurement(x) for x in s.sizes],
        },
    ]
    end = start + timedelta(days=horizon_days)
    today = start
    while today <= end:
        history = PatientHistory.model_validate({**head, "events": events})
        result = evaluate(history, protocol, today)
        actions = [a for a in result.next_actions if a.latest >= today]
        if not actions:
            break
        a = min(actions, key=lambda x: (max(x.earliest, today), x.target, x.kind))
        lo = max(a.earliest, today)
        hi = min([a.latest] + [b.latest for b in actions if b is not a and b.latest >= lo])
        day = lo + timedelta(days=rng.randint(0, max(0, min((hi - lo).days, 3))))
        if day > end:
            break
        months = (day - today).days / 30.44
        if rng.random() < 1 - (1 - model.monthly_death * (2 if s.progressed else 1)) ** months:
            events.append({"type": "death", "date": day.isoformat(), "cause": "disease"})
            break
        if rng.random() < 1 - (1 - model.monthly_dropout) ** months:
            events.append({"type": "lost_to_follow_up", "date": day.isoformat()})
            break
        events.extend(_perform(a, day, s, arm))
        today = day
    return PatientHistory.model_validate({**head, "events": events})
