"""Small builders for hand-made histories in tests."""

from __future__ import annotations

import importlib.util
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from rfatrial.kernel.history import PatientHistory

START = date(2026, 1, 5)


def day(offset: int) -> str:
    """The ISO date ``offset`` days after the study start of these tests."""
    return (START + timedelta(days=offset)).isoformat()


def lesions(sizes: dict[str, float]) -> list[dict[str, Any]]:
    return [{"lesion_id": k, "organ": "liver", "diameter_mm": v} for k, v in sizes.items()]


def labs(offset: int, **overrides: float) -> dict[str, Any]:
    values = {
        "platelets": (180, "10^9/L", None),
        "neutrophils": (3.2, "10^9/L", None),
        "hemoglobin": (12.5, "g/dL", None),
        "inr": (1.05, "ratio", None),
        "bilirubin": (12, "µmol/L", 21),
        "alt": (32, "U/L", 40),
        "ast": (30, "U/L", 40),
        "albumin": (41, "g/L", None),
        "creatinine": (78, "µmol/L", 106),
    }
    results = []
    for analyte, (value, unit, uln) in values.items():
        item: dict[str, Any] = {
            "analyte": analyte,
            "value": overrides.get(analyte, value),
            "unit": unit,
        }
        if uln is not None:
            item["uln"] = uln
        results.append(item)
    return {
        "type": "lab_panel",
        "date": day(offset),
        "results": results,
        "ascites": "none",
        "encephalopathy": "none",
    }


def cycle(offset: int, regimen: str = "FOLFOX", bevacizumab: bool = False) -> dict[str, Any]:
    agents = [{"name": "oxaliplatin", "dose": 85, "unit": "mg/m2"}]
    if bevacizumab:
        agents.append({"name": "bevacizumab", "dose": 5, "unit": "mg/kg"})
    return {"type": "systemic_cycle", "date": day(offset), "regimen": regimen, "agents": agents}


def scan(offset: int, sizes: dict[str, float], **extra: Any) -> dict[str, Any]:
    return {
        "type": "imaging",
        "date": day(offset),
        "modality": "CT",
        "purpose": extra.pop("purpose", "response"),
        "lesions": lesions(sizes),
        **extra,
    }


def rfa(offset: int, ids: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "type": "rfa_session",
        "date": day(offset),
        "lesions": [{"lesion_id": x, "technical_success": True, "margin_mm": 8} for x in ids],
        **extra,
    }


def post_scan(offset: int, outcomes: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "post_rfa_scan",
        "date": day(offset),
        "modality": "CT",
        "results": [{"lesion_id": k, "outcome": v} for k, v in outcomes.items()],
    }


BASELINE = {"L1": 30.0, "L2": 24.0, "L3": 18.0, "L4": 15.0}


def history(arm: str, *events: dict[str, Any]) -> PatientHistory:
    head = [
        {
            "type": "screening",
            "date": day(0),
            "consent_date": day(0),
            "eligible": True,
            "liver_lesion_count": len(BASELINE),
        },
        scan(0, BASELINE, purpose="baseline"),
        {"type": "randomization", "date": day(3), "arm": arm},
    ]
    return PatientHistory.model_validate(
        {
            "patient_id": "T-001",
            "site": "S01",
            "sex": "F",
            "age_at_screening": 58,
            "events": head + list(events),
        }
    )


# A clean experimental course up to the first session's preparation: cycles on days 10 and 24,
# a response scan on day 38 (PR), passing labs on day 40.
INDUCTION = (
    cycle(10),
    cycle(24),
    scan(38, {"L1": 20.0, "L2": 16.0, "L3": 12.0, "L4": 10.0}),
)


def source_module(module: ModuleType) -> ModuleType:
    """``module`` run from its Python source, also when the compiled one is loaded (``make kernel``
    compiles some kernel modules with mypyc, whose functions keep no docstrings to test)."""
    path = Path(str(module.__file__))
    source = path.with_name(path.name.split(".")[0] + ".py")
    if path == source:
        return module
    spec = importlib.util.spec_from_file_location(f"{module.__name__}_source", source)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded
