"""The pre-RFA lab gate on one panel: every default criterion at its boundary (clinical.md §5)."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rfatrial.kernel.history import LabPanel
from rfatrial.kernel.lab_gate import check_panel, panel_passes
from rfatrial.kernel.protocol import default_protocol

CRITERIA = default_protocol().lab_gate.criteria


def passing(**changes: Any) -> dict[str, dict[str, Any]]:
    results = {
        "platelets": {"value": 150, "unit": "10^9/L"},
        "inr": {"value": 1.1, "unit": "ratio"},
        "neutrophils": {"value": 3.0, "unit": "10^9/L"},
        "hemoglobin": {"value": 12.0, "unit": "g/dL"},
        "bilirubin": {"value": 10, "unit": "µmol/L", "uln": 21},
        "alt": {"value": 30, "unit": "U/L", "uln": 40},
        "ast": {"value": 30, "unit": "U/L", "uln": 40},
        "albumin": {"value": 40, "unit": "g/L"},
        "creatinine": {"value": 80, "unit": "µmol/L", "uln": 106},
    }
    for analyte, value in changes.items():
        if value is None:
            results.pop(analyte)
        else:
            results[analyte] = {**results[analyte], **value}
    return results


def panel(results: dict[str, dict[str, Any]], **clinical: Any) -> LabPanel:
    return LabPanel.model_validate(
        {
            "date": "2026-03-02",
            "results": [{"analyte": k, **v} for k, v in results.items()],
            "ascites": clinical.get("ascites", "none"),
            "encephalopathy": clinical.get("encephalopathy", "none"),
        }
    )


def test_a_normal_panel_passes_every_criterion() -> None:
    result = check_panel(panel(passing()), CRITERIA)
    assert result.passed and result.failed == ()
    assert [c.key for c in result.criteria] == [c.key for c in CRITERIA]


@pytest.mark.parametrize(
    ("analyte", "ok", "bad"),
    [
        ("platelets", {"value": 50}, {"value": 49.9}),
        ("platelets", {"value": 50000, "unit": "/mm3"}, {"value": 49999, "unit": "/mm3"}),
        ("inr", {"value": 1.5}, {"value": 1.51}),
        ("neutrophils", {"value": 1.5}, {"value": 1.49}),
        ("hemoglobin", {"value": 9.0}, {"value": 8.9}),
        ("hemoglobin", {"value": 90, "unit": "g/L"}, {"value": 89, "unit": "g/L"}),
        ("bilirubin", {"value": 31.5}, {"value": 31.6}),  # 1.5 × ULN 21
        ("alt", {"value": 200}, {"value": 201}),  # 5 × ULN 40
        ("ast", {"value": 200}, {"value": 200.5}),
        ("albumin", {"value": 30}, {"value": 29.9}),
        ("albumin", {"value": 3.0, "unit": "g/dL"}, {"value": 2.99, "unit": "g/dL"}),
        ("creatinine", {"value": 159}, {"value": 159.1}),  # 1.5 × ULN 106
    ],
)
def test_each_criterion_at_its_boundary(
    analyte: str, ok: dict[str, Any], bad: dict[str, Any]
) -> None:
    assert check_panel(panel(passing(**{analyte: ok})), CRITERIA).passed
    result = check_panel(panel(passing(**{analyte: bad})), CRITERIA)
    assert not result.passed
    assert [(c.key, c.status) for c in result.failed] == [(analyte, "fail")]


def test_failed_criterion_reports_value_and_threshold() -> None:
    result = check_panel(panel(passing(alt={"value": 250})), CRITERIA)
    (failed,) = result.failed
    assert failed.value == 250 and failed.unit == "U/L"
    assert "5 × ULN" in failed.threshold and "200" in failed.threshold


def test_a_missing_value_or_uln_never_passes() -> None:
    result = check_panel(panel(passing(inr=None)), CRITERIA)
    statuses = {c.key: c.status for c in result.failed}
    assert statuses == {"inr": "missing", "child_pugh": "missing"}
    no_uln = passing()
    no_uln["creatinine"] = {"value": 80, "unit": "µmol/L"}
    result = check_panel(panel(no_uln), CRITERIA)
    assert [(c.key, c.status) for c in result.failed] == [("creatinine", "missing")]
    assert "no ULN" in result.failed[0].threshold


def test_child_pugh_class_b_fails_the_gate() -> None:
    # bilirubin 40 µmol/L (2 pts), albumin 31 g/L (2 pts), INR 1.1 (1), mild ascites (2), none (1)
    results = passing(bilirubin={"value": 40, "uln": 30}, albumin={"value": 31})
    result = check_panel(panel(results, ascites="mild"), CRITERIA)
    assert [(c.key, c.value) for c in result.failed] == [("child_pugh", "B")]
    no_clinical = LabPanel.model_validate(
        {"date": "2026-03-02", "results": [{"analyte": k, **v} for k, v in passing().items()]}
    )
    assert [c.key for c in check_panel(no_clinical, CRITERIA).failed] == ["child_pugh"]


def test_an_unknown_unit_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="unit"):
        panel(passing(platelets={"value": 150, "unit": "furlongs"}))


@settings(max_examples=300, deadline=None)
@given(
    platelets=st.sampled_from([49.9, 50, 50.1, 75, 74.99, 120]),
    inr=st.sampled_from([1.5, 1.51, 1.0, 2.4]),
    bilirubin=st.sampled_from([31.5, 31.6, 10, 60]),
    alt=st.sampled_from([200, 200.5, 40, 199.99]),
    albumin_g_dl=st.sampled_from([3.0, 2.99, 4.1, 2.7]),
    neutrophils_mm3=st.sampled_from([1500, 1499, 3000, 900]),
    ascites=st.sampled_from(["none", "mild", None]),
    drop=st.sampled_from([None, "inr", "creatinine", "hemoglobin"]),
    missing_ok=st.booleans(),
)
def test_the_fast_pass_agrees_with_the_full_judgement(
    platelets: float,
    inr: float,
    bilirubin: float,
    alt: float,
    albumin_g_dl: float,
    neutrophils_mm3: float,
    ascites: str | None,
    drop: str | None,
    missing_ok: bool,
) -> None:
    results = passing(
        platelets={"value": platelets},
        inr={"value": inr},
        bilirubin={"value": bilirubin},
        alt={"value": alt},
        albumin={"value": albumin_g_dl, "unit": "g/dL"},
        neutrophils={"value": neutrophils_mm3, "unit": "/mm3"},
    )
    if drop:
        results.pop(drop)
    p = panel(results, ascites=ascites)
    for criteria in (CRITERIA, default_protocol().systemic.pre_cycle_labs):
        full = check_panel(p, criteria)
        allowed = {"pass", "missing"} if missing_ok else {"pass"}
        expected = all(c.status in allowed for c in full.criteria)
        assert panel_passes(p, criteria, missing_ok=missing_ok) == expected
