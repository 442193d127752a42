"""Baseline features on small hand-made histories: BRAF status from screening, CEA from the last
lab panel on or before randomization, and the report's baseline table by arm."""

from __future__ import annotations

from typing import Any

import pytest

from rfatrial.analysis.datasets import derive_datasets
from rfatrial.analysis.report import _baseline_section
from rfatrial.kernel.history import PatientHistory

STRATUM = {"site": "S01", "liver_lesions": "<=5", "ras_status": "wild_type"}


def cea(day: str, value: float, unit: str = "ng/mL") -> dict[str, Any]:
    return {
        "type": "lab_panel",
        "date": day,
        "results": [
            {"analyte": "albumin", "value": 40, "unit": "g/L"},
            {"analyte": "cea", "value": value, "unit": unit},
        ],
    }


def no_cea(day: str) -> dict[str, Any]:
    return {
        "type": "lab_panel",
        "date": day,
        "results": [{"analyte": "albumin", "value": 41, "unit": "g/L"}],
    }


def patient(
    pid: str,
    arm: str | None,
    braf: str | None,
    events: list[dict[str, Any]],
    randomized: str = "2026-01-10",
) -> PatientHistory:
    screening: dict[str, Any] = {
        "type": "screening",
        "date": "2026-01-01",
        "consent_date": "2026-01-01",
        "eligible": arm is not None,
        "liver_lesion_count": 3,
        "ras_status": "mutant",
    }
    if braf is not None:  # None: not recorded, the record's default (unknown)
        screening["braf_status"] = braf
    rand = (
        [{"type": "randomization", "date": randomized, "arm": arm, "stratum": STRATUM}]
        if arm is not None
        else []
    )
    return PatientHistory.model_validate(
        {
            "patient_id": pid,
            "site": "S01",
            "sex": "F",
            "age_at_screening": 58,
            "events": [screening, *rand, *events],
        }
    )


def cohort() -> list[PatientHistory]:
    return [
        # CEA on the day of randomization counts; the one after it does not
        patient(
            "P1",
            "control",
            "mutant",
            [cea("2026-01-02", 4.0), cea("2026-01-10", 7.0), cea("2026-01-20", 100.0)],
        ),
        # CEA in µg/L (the same as ng/mL); a later panel without CEA keeps it
        patient(
            "P2",
            "control",
            "wild_type",
            [cea("2026-01-03", 13.0, "µg/L"), no_cea("2026-01-07")],
            randomized="2026-01-08",
        ),
        # no BRAF recorded: unknown; CEA measured only after randomization: none at baseline
        patient("P3", "experimental", None, [no_cea("2026-01-09"), cea("2026-02-01", 9.0)]),
        patient(
            "P4", "experimental", "wild_type", [cea("2026-01-05", 3.0), cea("2026-01-11", 2.0)]
        ),
        # screened, not randomized: baseline up to the last record; not in the table
        patient("P5", None, "mutant", [cea("2026-01-04", 8.0)]),
    ]


def test_braf_and_cea_in_the_patient_rows() -> None:
    ds = derive_datasets(cohort())
    got = {p.patient_id: (p.arm, p.braf_status, p.baseline_cea) for p in ds.patients}
    assert got == {
        "P1": ("control", "mutant", 7.0),
        "P2": ("control", "wild_type", 13.0),
        "P3": ("experimental", "unknown", None),
        "P4": ("experimental", "wild_type", 3.0),
        "P5": (None, "mutant", 8.0),
    }


def test_no_screening_record_no_braf() -> None:
    h = PatientHistory.model_validate(
        {
            "patient_id": "X1",
            "site": "S01",
            "sex": "M",
            "age_at_screening": 70,
            "events": [
                cea("2026-01-01", 5.5),
                {"type": "randomization", "date": "2026-01-02", "arm": "control"},
            ],
        }
    )
    (row,) = derive_datasets([h]).patients
    assert (row.braf_status, row.ras_status, row.baseline_cea) == (None, None, 5.5)


def test_baseline_table_by_arm() -> None:
    table = _baseline_section(derive_datasets(cohort())).tables[0]
    assert table.header[1:] == [
        "Control (systemic)",
        "Experimental (systemic + RFA)",
        "All",
    ]
    rows = {r[0]: r[1:] for r in table.rows}
    assert rows["Patients"] == ["2", "2", "4"]  # the randomized patients only
    assert rows["BRAF wild type"] == ["1 (50.0%)", "1 (50.0%)", "2 (50.0%)"]
    assert rows["BRAF mutant"] == ["1 (50.0%)", "0 (0.0%)", "1 (25.0%)"]
    assert rows["BRAF unknown"] == ["0 (0.0%)", "1 (50.0%)", "1 (25.0%)"]
    assert rows["RAS mutant"] == ["2 (100.0%)", "2 (100.0%)", "4 (100.0%)"]
    # control 7 and 13: median 10, quartiles 8.5 and 11.5 (linear interpolation);
    # experimental 3 alone; all 3, 7, 13: median 7, quartiles 5 and 10
    assert rows["CEA, ng/mL: median (IQR)"] == [
        "10.0 (8.5-11.5)",
        "3.0 (3.0-3.0)",
        "7.0 (5.0-10.0)",
    ]
    assert rows["CEA not measured before randomization"] == ["0 (0.0%)", "1 (50.0%)", "1 (25.0%)"]
    order = [r[0] for r in table.rows]
    assert order.index("RAS unknown") + 1 == order.index("BRAF wild type")


@pytest.mark.parametrize("value", [0.0, 2.5])
def test_every_patient_with_cea_no_missing_row(value: float) -> None:
    hs = [
        patient("A", "control", "wild_type", [cea("2026-01-02", value)]),
        patient("B", "experimental", "mutant", [cea("2026-01-02", 1.0)]),
    ]
    rows = {r[0]: r[1:] for r in _baseline_section(derive_datasets(hs)).tables[0].rows}
    assert "CEA not measured before randomization" not in rows
    assert rows["CEA, ng/mL: median (IQR)"][0] == f"{value:.1f} ({value:.1f}-{value:.1f})"
