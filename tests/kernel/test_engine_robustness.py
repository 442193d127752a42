"""The engine never raises on a history that passed its schema, however odd its content."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rfatrial.kernel.history import PatientHistory
from rfatrial.kernel.pathway import PathwayState, evaluate
from rfatrial.kernel.protocol import default_protocol

P = default_protocol()
START = date(2026, 1, 1)
days = st.integers(0, 900).map(lambda d: (START + timedelta(days=d)).isoformat())
ids = st.sampled_from([f"L{k}" for k in range(1, 9)])
sizes = st.one_of(st.none(), st.floats(0, 80, allow_nan=False).map(lambda x: round(x, 1)))
new_ids = st.sampled_from([f"N{k}" for k in range(1, 4)])


def lesion_with(id_strategy: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"lesion_id": id_strategy, "diameter_mm": sizes},
        optional={
            "organ": st.sampled_from(["liver", "lung", "lymph_node"]),
            "is_node": st.booleans(),
            "too_small_to_measure": st.booleans(),
        },
    )


lesion = lesion_with(ids)
analytes = st.sampled_from(
    [
        ("platelets", "10^9/L", 0, 600),
        ("neutrophils", "10^9/L", 0, 20),
        ("hemoglobin", "g/dL", 3, 18),
        ("inr", "ratio", 0.8, 4),
        ("bilirubin", "µmol/L", 2, 200),
        ("alt", "U/L", 5, 800),
        ("albumin", "g/L", 10, 55),
        ("creatinine", "µmol/L", 30, 400),
    ]
)


@st.composite
def lab_result(draw: st.DrawFn) -> dict[str, Any]:
    name, unit, lo, hi = draw(analytes)
    item: dict[str, Any] = {"analyte": name, "unit": unit, "value": draw(st.floats(lo, hi))}
    if draw(st.booleans()):
        item["uln"] = hi / 4
    return item


events = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("screening"),
            "date": days,
            "consent_date": days,
            "eligible": st.booleans(),
            "liver_lesion_count": st.integers(1, 15),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("randomization"),
            "date": days,
            "arm": st.sampled_from(["control", "experimental"]),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("systemic_cycle"),
            "date": days,
            "regimen": st.sampled_from(["FOLFOX", "CAPOX", "UNKNOWN"]),
            "agents": st.lists(
                st.fixed_dictionaries(
                    {
                        "name": st.sampled_from(["oxaliplatin", "bevacizumab"]),
                        "dose": st.just(5.0),
                        "unit": st.just("mg/kg"),
                    }
                ),
                max_size=2,
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("imaging"),
            "date": days,
            "modality": st.sampled_from(["CT", "MRI", "US"]),
            "purpose": st.sampled_from(["baseline", "response", "follow_up"]),
            "lesions": st.lists(lesion, max_size=6, unique_by=lambda x: x["lesion_id"]),
            "new_lesions": st.lists(
                lesion_with(new_ids), max_size=2, unique_by=lambda x: x["lesion_id"]
            ),
            "local_progression": st.lists(ids, max_size=2),
            "extrahepatic_progression": st.booleans(),
            "non_target_progression": st.booleans(),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("lab_panel"),
            "date": days,
            "results": st.lists(
                lab_result(), min_size=1, max_size=8, unique_by=lambda x: x["analyte"]
            ),
            "ascites": st.sampled_from(["none", "mild", None]),
            "encephalopathy": st.sampled_from(["none", None]),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("rfa_session"),
            "date": days,
            "lesions": st.lists(
                st.fixed_dictionaries({"lesion_id": ids, "technical_success": st.booleans()}),
                min_size=1,
                max_size=8,
                unique_by=lambda x: x["lesion_id"],
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("post_rfa_scan"),
            "date": days,
            "modality": st.just("CT"),
            "results": st.lists(
                st.fixed_dictionaries(
                    {"lesion_id": ids, "outcome": st.sampled_from(["complete", "residual"])}
                ),
                min_size=1,
                max_size=4,
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("follow_up_visit"),
            "date": days,
            "visit_id": st.sampled_from(["M3", "M6", "M30-CT", "M99"]),
            "components": st.lists(st.sampled_from(["labs", "ecg", "ct_mri"]), unique=True),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("adverse_event"),
            "date": days,
            "term": st.just("Fatigue"),
            "grade": st.integers(1, 5),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["withdrawal", "death", "lost_to_follow_up"]),
            "date": days,
            "reason": st.just("patient decision"),
        }
    ).map(lambda e: e if e["type"] == "withdrawal" else {"type": e["type"], "date": e["date"]}),
)


def _once(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for e in items:
        once = e["type"] in (
            "screening",
            "randomization",
            "death",
            "withdrawal",
            "lost_to_follow_up",
        )
        if once and e["type"] in seen:
            continue
        seen.add(e["type"])
        out.append(e)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(events, max_size=30).map(_once), today=st.integers(0, 1200))
def test_any_well_formed_history_is_evaluated_without_error(
    items: list[dict[str, Any]], today: int
) -> None:
    history = PatientHistory.model_validate(
        {"patient_id": "X", "site": "S01", "sex": "F", "age_at_screening": 50, "events": items}
    )
    day = START + timedelta(days=today)
    result = evaluate(history, P, day)
    for a in result.next_actions:
        assert a.earliest <= a.target <= a.latest
    state = PathwayState(P, "X")
    for e in history.events:
        state.add(e)
    assert state.evaluate(day) == result
