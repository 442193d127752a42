"""Tests of RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228-47; clinical.md §7)."""

from __future__ import annotations

import doctest
import math
import random
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rfatrial.kernel import recist
from rfatrial.kernel.recist import (
    LesionObservation,
    RecistCriteria,
    TargetSelection,
    Timepoint,
    TimepointResponse,
    assess_series,
    is_measurable,
    select_targets,
)
from rfatrial.kernel.units import ClinicalValueError

from .builders import source_module


def lesion(
    lesion_id: str,
    diameter: float | None,
    organ: str = "liver",
    *,
    node: bool = False,
    small: bool = False,
) -> LesionObservation:
    return LesionObservation(lesion_id, organ, diameter, is_node=node, too_small_to_measure=small)


def at(*observations: LesionObservation, **kwargs: object) -> Timepoint:
    return Timepoint(tuple(observations), **kwargs)  # type: ignore[arg-type]


def one(baseline: Sequence[LesionObservation], timepoint: Timepoint) -> TimepointResponse:
    (response,) = assess_series(baseline, [timepoint])
    return response


def test_doctests() -> None:
    result = doctest.testmod(source_module(recist))  # a compiled module keeps no docstrings
    assert result.attempted > 0
    assert result.failed == 0


def test_default_criteria_are_recist_1_1() -> None:
    c = RecistCriteria()
    assert (c.max_targets, c.max_targets_per_organ) == (5, 2)
    assert (c.min_measurable_mm, c.min_measurable_node_mm, c.pathological_node_mm) == (10, 15, 10)
    assert (c.pr_decrease, c.pd_increase, c.pd_absolute_mm, c.too_small_mm) == (0.3, 0.2, 5, 5)


# ------------------------------------------------------------------ measurability


@pytest.mark.parametrize(
    ("obs", "measurable"),
    [
        (lesion("L", 10.0), True),
        (lesion("L", 9.9), False),
        (lesion("L", 9.99), False),
        (lesion("L", 100.0), True),
        (lesion("L", None), False),
        (lesion("L", 20.0, small=True), False),
        (lesion("N", 15.0, "lymph_node", node=True), True),
        (lesion("N", 14.9, "lymph_node", node=True), False),
        (lesion("N", 10.0, "lymph_node", node=True), False),
    ],
)
def test_is_measurable(obs: LesionObservation, measurable: bool) -> None:
    assert is_measurable(obs) is measurable


def test_is_measurable_follows_criteria() -> None:
    assert is_measurable(lesion("L", 8.0), RecistCriteria(min_measurable_mm=8.0))


# ------------------------------------------------------------------ target selection


def test_three_liver_lesions_two_targets() -> None:
    selection = select_targets([lesion("A", 20.0), lesion("B", 30.0), lesion("C", 25.0)])
    assert selection == TargetSelection(targets=("B", "C"), non_targets=("A",))


def test_seven_lesions_four_organs_five_targets() -> None:
    baseline = [
        lesion("liver-50", 50.0),
        lesion("liver-40", 40.0),
        lesion("liver-30", 30.0),
        lesion("lung-45", 45.0, "lung"),
        lesion("lung-25", 25.0, "lung"),
        lesion("node-20", 20.0, "lymph_node", node=True),
        lesion("perit-12", 12.0, "peritoneum"),
    ]
    selection = select_targets(baseline)
    assert selection.targets == ("liver-50", "lung-45", "liver-40", "lung-25", "node-20")
    assert selection.non_targets == ("liver-30", "perit-12")
    assert selection.normal_nodes == ()


def test_five_target_limit_across_many_organs() -> None:
    organs = ["liver", "lung", "bone", "adrenal", "spleen", "kidney"]
    baseline = [lesion(f"{o}-1", 20.0 + i, o) for i, o in enumerate(organs)]
    selection = select_targets(baseline)
    assert len(selection.targets) == 5
    assert selection.non_targets == ("liver-1",)  # the smallest


def test_ties_are_broken_by_lesion_id() -> None:
    baseline = [lesion("C", 20.0), lesion("A", 20.0), lesion("B", 20.0)]
    assert select_targets(baseline).targets == ("A", "B")
    assert select_targets(list(reversed(baseline))).targets == ("A", "B")


def test_organs_compare_case_insensitively() -> None:
    baseline = [lesion("A", 30.0, "Liver"), lesion("B", 20.0, "liver"), lesion("C", 10.0, "LIVER")]
    assert select_targets(baseline).targets == ("A", "B")


@pytest.mark.parametrize(
    ("short_axis", "kind"),
    [(9.9, "normal"), (10.0, "non_target"), (14.9, "non_target"), (15.0, "target")],
)
def test_node_classification(short_axis: float, kind: str) -> None:
    baseline = [lesion("L", 30.0), lesion("N", short_axis, "lymph_node", node=True)]
    selection = select_targets(baseline)
    assert ("N" in selection.normal_nodes) is (kind == "normal")
    assert ("N" in selection.non_targets) is (kind == "non_target")
    assert ("N" in selection.targets) is (kind == "target")


@pytest.mark.parametrize(
    "obs",
    [lesion("X", 9.9), lesion("X", None), lesion("X", 12.0, small=True)],
)
def test_non_measurable_lesions_are_non_targets(obs: LesionObservation) -> None:
    selection = select_targets([lesion("L", 30.0), obs])
    assert selection.targets == ("L",)
    assert selection.non_targets == ("X",)


def test_too_small_node_is_normal() -> None:
    selection = select_targets([lesion("N", None, "lymph_node", node=True, small=True)])
    assert selection.normal_nodes == ("N",)


def test_selection_follows_criteria() -> None:
    baseline = [lesion(str(i), 10.0 + i, f"organ{i}") for i in range(5)]
    assert select_targets(baseline, RecistCriteria(max_targets=3)).targets == ("4", "3", "2")
    same_organ = [lesion(str(i), 10.0 + i) for i in range(5)]
    assert len(select_targets(same_organ, RecistCriteria(max_targets_per_organ=3)).targets) == 3


@pytest.mark.parametrize(
    ("baseline", "match"),
    [
        ([lesion("N", None, "lymph_node", node=True)], "short axis"),
        ([lesion("L", 0.0)], "0 mm"),
        ([lesion("L", 20.0), lesion("L", 30.0)], "listed twice"),
    ],
)
def test_invalid_baseline(baseline: list[LesionObservation], match: str) -> None:
    with pytest.raises(ClinicalValueError, match=match):
        select_targets(baseline)


# ------------------------------------------------------------------ target response


@pytest.mark.parametrize(
    ("baseline_mm", "followup_mm", "response"),
    [
        (50.0, 35.0, "PR"),  # exactly -30%
        (100.0, 70.0, "PR"),
        (100.0, 70.1, "SD"),  # -29.9%
        (25.0, 30.0, "PD"),  # exactly +20% and +5 mm
        (24.5, 29.4, "SD"),  # exactly +20% but +4.9 mm
        (50.0, 59.95, "SD"),  # +19.9% (+9.95 mm)
        (50.0, 60.0, "PD"),  # +20% (+10 mm)
        (10.0, 15.0, "PD"),  # +50%, +5 mm
        (10.0, 14.9, "SD"),  # +49%, +4.9 mm
        (40.0, 40.0, "SD"),
        (40.0, 0.0, "CR"),
    ],
)
def test_target_boundaries(baseline_mm: float, followup_mm: float, response: str) -> None:
    r = one([lesion("L", baseline_mm)], at(lesion("L", followup_mm)))
    assert r.target_response == response
    assert r.sum_mm == followup_mm
    assert r.baseline_sum_mm == baseline_mm


def test_exact_fractions() -> None:
    r = one([lesion("L", 50.0)], at(lesion("L", 35.0)))
    assert r.change_from_baseline == -0.3
    assert r.change_from_nadir == -0.3
    assert r.nadir_sum_mm == 50.0


def test_sum_over_targets_including_node_short_axis() -> None:
    baseline = [lesion("L", 30.0), lesion("N", 20.0, "lymph_node", node=True)]
    r = one(baseline, at(lesion("L", 20.0), lesion("N", 15.0, "lymph_node", node=True)))
    assert r.baseline_sum_mm == 50.0
    assert r.sum_mm == 35.0
    assert r.target_response == "PR"


def test_nadir_tracking() -> None:
    baseline = [lesion("L", 50.0)]
    followups = [
        at(lesion("L", 30.0)),  # PR, new nadir 30
        at(lesion("L", 35.9)),  # +5.9 mm = 19.7% from nadir: not PD; -28.2% from baseline: SD
        at(lesion("L", 36.0)),  # +6 mm = 20% from nadir 30: PD although below baseline
    ]
    r1, r2, r3 = assess_series(baseline, followups)
    assert (r1.target_response, r2.target_response, r3.target_response) == ("PR", "SD", "PD")
    assert (r1.nadir_sum_mm, r2.nadir_sum_mm, r3.nadir_sum_mm) == (50.0, 30.0, 30.0)
    assert r3.change_from_nadir == pytest.approx(0.2)
    assert r3.change_from_baseline == pytest.approx(-0.28)


def test_nadir_includes_baseline() -> None:
    baseline = [lesion("L", 30.0)]
    r1, r2 = assess_series(baseline, [at(lesion("L", 33.0)), at(lesion("L", 36.0))])
    assert r1.target_response == "SD"
    assert r2.nadir_sum_mm == 30.0
    assert r2.target_response == "PD"


def test_incomplete_timepoint_is_not_a_nadir() -> None:
    baseline = [lesion("A", 30.0), lesion("B", 30.0)]
    followups = [
        at(lesion("A", 10.0)),  # B not evaluated: NE, its partial sum 10 is no nadir
        # sum 16: +6 mm and +60% over the partial 10, but the nadir is the baseline 60: PR
        at(lesion("A", 8.0), lesion("B", 8.0)),
    ]
    r1, r2 = assess_series(baseline, followups)
    assert r1.target_response == "NE"
    assert r1.sum_mm is None
    assert r2.nadir_sum_mm == 60.0
    assert r2.target_response == "PR"


@pytest.mark.parametrize(
    ("a", "b", "response"),
    [
        (0.0, 0.0, "CR"),
        (0.0, 9.9, "CR"),  # target node below 10 mm
        (0.0, 10.0, "PR"),  # target node at 10 mm is still pathological
        (None, 0.0, "NE"),
    ],
)
def test_complete_response(a: float | None, b: float, response: str) -> None:
    baseline = [lesion("L", 30.0), lesion("N", 20.0, "lymph_node", node=True)]
    r = one(baseline, at(lesion("L", a), lesion("N", b, "lymph_node", node=True)))
    assert r.target_response == response


def test_too_small_counts_five_mm_and_is_not_cr() -> None:
    r = one([lesion("L", 20.0)], at(lesion("L", None, small=True)))
    assert r.sum_mm == 5.0
    assert r.target_response == "PR"
    r = one([lesion("L", 20.0)], at(lesion("L", 3.0, small=True)))
    assert r.sum_mm == 5.0


@pytest.mark.parametrize("missing", ["none", "absent"])
def test_target_not_evaluated_is_ne(missing: str) -> None:
    baseline = [lesion("A", 20.0), lesion("B", 20.0)]
    seen = [lesion("A", 10.0)] + ([lesion("B", None)] if missing == "none" else [])
    r = one(baseline, at(*seen))
    assert r.target_response == "NE"
    assert r.overall == "NE"
    assert r.sum_mm is None and r.change_from_baseline is None


def test_pd_shown_by_the_evaluated_targets() -> None:
    baseline = [lesion("A", 20.0), lesion("B", 20.0)]
    r = one(baseline, at(lesion("A", 48.0), lesion("B", None)))  # 48 ≥ 1.2 × 40 and +8 mm
    assert r.target_response == "PD"
    assert r.overall == "PD"
    assert r.sum_mm is None
    r = one(baseline, at(lesion("A", 47.9), lesion("B", None)))
    assert r.target_response == "NE"


def test_reappearance_after_cr() -> None:
    baseline = [lesion("L", 20.0)]
    r1, r2, r3 = assess_series(
        baseline, [at(lesion("L", 0.0)), at(lesion("L", 4.9)), at(lesion("L", 5.0))]
    )
    assert r1.target_response == "CR"
    assert r2.target_response == "PR"  # 4.9 mm: not PD by the 5 mm rule
    assert r3.target_response == "PD"
    assert r3.nadir_sum_mm == 0.0
    assert r3.change_from_nadir is None


def test_pd_takes_precedence_over_node_cr() -> None:
    baseline = [lesion("N", 15.0, "lymph_node", node=True)]
    r1, r2 = assess_series(
        baseline,
        [
            at(lesion("N", 4.0, "lymph_node", node=True)),
            at(lesion("N", 9.5, "lymph_node", node=True)),
        ],
    )
    assert r1.target_response == "CR"
    assert r2.target_response == "PD"  # +5.5 mm, +137% from the nadir 4 mm


# ------------------------------------------------------------------ overall response, Table 4

BASE = [lesion("T", 30.0), lesion("NT", 5.0)]  # one target, one non-target (too small to be one)


def _row(
    target_mm: float | None,
    non_target_mm: float | None,
    *,
    new: bool = False,
    nt_pd: bool = False,
    markers: bool = False,
) -> TimepointResponse:
    return one(
        BASE,
        at(
            lesion("T", target_mm),
            lesion("NT", non_target_mm),
            new_lesion=new,
            non_target_unequivocal_progression=nt_pd,
            tumor_markers_above_normal=markers,
        ),
    )


@pytest.mark.parametrize(
    ("target_mm", "non_target_mm", "new", "nt_pd", "target", "non_target", "overall"),
    [
        # CR | CR | No -> CR
        (0.0, 0.0, False, False, "CR", "CR", "CR"),
        # CR | Non-CR/non-PD | No -> PR
        (0.0, 4.0, False, False, "CR", "NON_CR_NON_PD", "PR"),
        # CR | Not evaluated | No -> PR
        (0.0, None, False, False, "CR", "NE", "PR"),
        # PR | Non-PD or not all evaluated | No -> PR
        (21.0, 4.0, False, False, "PR", "NON_CR_NON_PD", "PR"),
        (21.0, 0.0, False, False, "PR", "CR", "PR"),
        (21.0, None, False, False, "PR", "NE", "PR"),
        # SD | Non-PD or not all evaluated | No -> SD
        (30.0, 4.0, False, False, "SD", "NON_CR_NON_PD", "SD"),
        (30.0, 0.0, False, False, "SD", "CR", "SD"),
        (30.0, None, False, False, "SD", "NE", "SD"),
        # Not all evaluated | Non-PD | No -> NE
        (None, 4.0, False, False, "NE", "NON_CR_NON_PD", "NE"),
        (None, 0.0, False, False, "NE", "CR", "NE"),
        (None, None, False, False, "NE", "NE", "NE"),
        # PD | Any | Yes/No -> PD
        (36.0, 0.0, False, False, "PD", "CR", "PD"),
        (36.0, None, True, False, "PD", "NE", "PD"),
        # Any | PD | Yes/No -> PD
        (0.0, 0.0, False, True, "CR", "PD", "PD"),
        (21.0, 4.0, True, True, "PR", "PD", "PD"),
        (None, None, False, True, "NE", "PD", "PD"),
        # Any | Any | Yes -> PD
        (0.0, 0.0, True, False, "CR", "CR", "PD"),
        (21.0, 4.0, True, False, "PR", "NON_CR_NON_PD", "PD"),
        (30.0, 4.0, True, False, "SD", "NON_CR_NON_PD", "PD"),
        (None, 4.0, True, False, "NE", "NON_CR_NON_PD", "PD"),
    ],
)
def test_overall_with_target_disease(
    target_mm: float | None,
    non_target_mm: float | None,
    new: bool,
    nt_pd: bool,
    target: str,
    non_target: str,
    overall: str,
) -> None:
    r = _row(target_mm, non_target_mm, new=new, nt_pd=nt_pd)
    assert (r.target_response, r.non_target_response, r.overall) == (target, non_target, overall)
    assert r.new_lesion is new


def test_target_cr_without_non_targets() -> None:
    r = one([lesion("T", 30.0)], at(lesion("T", 0.0)))
    assert (r.target_response, r.non_target_response, r.overall) == ("CR", None, "CR")


def test_tumour_markers_prevent_complete_response() -> None:
    r = _row(0.0, 0.0, markers=True)
    assert (r.target_response, r.non_target_response, r.overall) == ("CR", "NON_CR_NON_PD", "PR")
    r = one([lesion("T", 30.0)], at(lesion("T", 0.0), tumor_markers_above_normal=True))
    assert (r.non_target_response, r.overall) == (None, "PR")
    assert _row(21.0, 0.0, markers=True).overall == "PR"


# ------------------------------------------------------------------ non-target only, Table 5

NT_ONLY = [
    lesion("A", 8.0),
    lesion("B", None, "peritoneum"),
    lesion("N", 12.0, "lymph_node", node=True),
]


@pytest.mark.parametrize(
    ("a", "b", "n", "new", "nt_pd", "non_target", "overall"),
    [
        (0.0, 0.0, 9.9, False, False, "CR", "CR"),
        (0.0, 0.0, 10.0, False, False, "NON_CR_NON_PD", "NON_CR_NON_PD"),
        (6.0, 0.0, 5.0, False, False, "NON_CR_NON_PD", "NON_CR_NON_PD"),
        (6.0, None, 5.0, False, False, "NON_CR_NON_PD", "NON_CR_NON_PD"),  # present anyway
        (0.0, None, 5.0, False, False, "NE", "NE"),
        (6.0, 3.0, 12.0, False, True, "PD", "PD"),
        (0.0, 0.0, 5.0, True, False, "CR", "PD"),
        (6.0, None, 12.0, True, False, "NON_CR_NON_PD", "PD"),
    ],
)
def test_overall_non_target_only(
    a: float | None,
    b: float | None,
    n: float,
    new: bool,
    nt_pd: bool,
    non_target: str,
    overall: str,
) -> None:
    r = one(
        NT_ONLY,
        at(
            lesion("A", a),
            lesion("B", b, "peritoneum"),
            lesion("N", n, "lymph_node", node=True),
            new_lesion=new,
            non_target_unequivocal_progression=nt_pd,
        ),
    )
    assert r.target_response is None
    assert r.sum_mm is None and r.baseline_sum_mm is None and r.change_from_baseline is None
    assert (r.non_target_response, r.overall) == (non_target, overall)


def test_non_target_markers() -> None:
    r = one(
        NT_ONLY,
        at(
            lesion("A", 0.0),
            lesion("B", 0.0, "peritoneum"),
            lesion("N", 5.0, "lymph_node", node=True),
            tumor_markers_above_normal=True,
        ),
    )
    assert (r.non_target_response, r.overall) == ("NON_CR_NON_PD", "NON_CR_NON_PD")


def test_non_target_not_observed_is_not_evaluated() -> None:
    r = one(NT_ONLY, at(lesion("A", 0.0), lesion("N", 5.0, "lymph_node", node=True)))
    assert r.non_target_response == "NE"


# ------------------------------------------------------------------ ablated (treated) lesions


def test_ablation_never_makes_a_response_by_itself() -> None:
    baseline = [lesion("T1", 30.0), lesion("T2", 20.0)]
    seen = at(lesion("T1", 0.0), lesion("T2", 20.0))
    untreated = one(baseline, seen)
    assert (untreated.target_response, untreated.sum_mm) == ("PR", 20.0)  # -60% if counted
    treated = one(baseline, at(lesion("T1", 0.0), lesion("T2", 20.0), treated=frozenset({"T1"})))
    assert treated.targets == ("T2",)
    assert treated.treated == ("T1",)
    assert treated.baseline_sum_mm == 20.0
    assert treated.sum_mm == 20.0
    assert treated.change_from_baseline == 0.0
    assert (treated.target_response, treated.overall) == ("SD", "SD")


def test_ablated_target_measurement_is_ignored() -> None:
    baseline = [lesion("T1", 30.0), lesion("T2", 20.0)]
    # the ablation zone is larger than the tumour was: not a progression
    r = one(baseline, at(lesion("T1", 45.0), lesion("T2", 20.0), treated=frozenset({"T1"})))
    assert r.target_response == "SD"
    # and not evaluating it does not make the timepoint NE
    r = one(baseline, at(lesion("T2", 20.0), treated=frozenset({"T1"})))
    assert r.target_response == "SD"


def test_nadir_is_recomputed_over_remaining_targets() -> None:
    baseline = [lesion("T1", 30.0), lesion("T2", 20.0)]
    followups = [
        at(lesion("T1", 27.0), lesion("T2", 14.0)),  # sum 41 (-18%): SD
        at(lesion("T2", 17.0), treated=frozenset({"T1"})),  # over T2: nadir 14, +3 mm: SD
        at(lesion("T2", 19.0)),  # +5 mm and +36% from 14: PD (T1 stays treated)
    ]
    r1, r2, r3 = assess_series(baseline, followups)
    assert (r1.target_response, r1.sum_mm, r1.nadir_sum_mm) == ("SD", 41.0, 50.0)
    assert (r2.target_response, r2.baseline_sum_mm, r2.nadir_sum_mm) == ("SD", 20.0, 14.0)
    assert r2.change_from_nadir == pytest.approx(3 / 14)
    assert (r3.target_response, r3.nadir_sum_mm, r3.treated) == ("PD", 14.0, ("T1",))
    # Compared with the full sum (T1 treated as 0 mm) this would have looked like a PR.
    assert one(baseline, at(lesion("T1", 0.0), lesion("T2", 19.0))).target_response == "PR"


def test_every_target_treated_non_targets_decide() -> None:
    baseline = [lesion("T1", 30.0), lesion("NT", 6.0)]
    r = one(baseline, at(lesion("NT", 6.0), treated=frozenset({"T1"})))
    assert r.target_response is None
    assert r.sum_mm is None and r.baseline_sum_mm is None and r.nadir_sum_mm is None
    assert (r.non_target_response, r.overall) == ("NON_CR_NON_PD", "NON_CR_NON_PD")
    r = one(baseline, at(lesion("NT", 0.0), treated=frozenset({"T1"})))
    assert (r.non_target_response, r.overall) == ("CR", "CR")


@pytest.mark.parametrize(
    ("kwargs", "non_target", "overall"),
    [
        ({}, None, "CR"),
        ({"new_lesion": True}, None, "PD"),
        ({"non_target_unequivocal_progression": True}, "PD", "PD"),
        ({"tumor_markers_above_normal": True}, None, "NON_CR_NON_PD"),
    ],
)
def test_everything_treated(kwargs: dict[str, bool], non_target: str | None, overall: str) -> None:
    baseline = [lesion("T1", 30.0), lesion("T2", 20.0), lesion("NT", 6.0)]
    everything = frozenset({"T1", "T2", "NT"})
    r = one(baseline, at(treated=everything, **kwargs))
    assert r.target_response is None
    assert r.targets == ()
    assert r.treated == ("NT", "T1", "T2")
    assert (r.non_target_response, r.overall) == (non_target, overall)


def test_treated_non_target_leaves_the_non_target_set() -> None:
    baseline = [lesion("T", 30.0), lesion("NT", 6.0)]
    r = one(baseline, at(lesion("T", 0.0), lesion("NT", 6.0), treated=frozenset({"NT"})))
    assert (r.target_response, r.non_target_response, r.overall) == ("CR", None, "CR")


def test_treated_is_cumulative_and_ignores_unknown_ids() -> None:
    baseline = [lesion("T1", 30.0), lesion("T2", 20.0)]
    r1, r2 = assess_series(
        baseline,
        [
            at(lesion("T2", 20.0), treated=frozenset({"T1", "NEW-1"})),
            at(lesion("T2", 20.0)),
        ],
    )
    assert r1.treated == r2.treated == ("T1",)
    assert r2.targets == ("T2",)


def test_non_baseline_lesions_are_untracked() -> None:
    r = one([lesion("T", 30.0)], at(lesion("T", 30.0), lesion("NEW-1", 12.0), new_lesion=True))
    assert r.untracked == ("NEW-1",)
    assert r.target_response == "SD"
    assert r.overall == "PD"


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lesion_id": "", "organ": "liver", "diameter_mm": 10.0}, "lesion_id"),
        ({"lesion_id": "L", "organ": " ", "diameter_mm": 10.0}, "organ"),
        ({"lesion_id": "L", "organ": "liver", "diameter_mm": -1.0}, "negative"),
        ({"lesion_id": "L", "organ": "liver", "diameter_mm": math.nan}, "not finite"),
        ({"lesion_id": "L", "organ": "liver", "diameter_mm": math.inf}, "not finite"),
        ({"lesion_id": "L", "organ": "liver", "diameter_mm": 1.0, "is_node": 1}, "is_node"),
    ],
)
def test_invalid_observation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ClinicalValueError, match=match):
        LesionObservation(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_targets": 0},
        {"max_targets_per_organ": 1.5},
        {"min_measurable_mm": 0.0},
        {"pr_decrease": 1.0},
        {"pd_increase": -0.1},
        {"pd_absolute_mm": math.nan},
        {"pathological_node_mm": 16.0},
    ],
)
def test_invalid_criteria(kwargs: dict[str, float]) -> None:
    with pytest.raises(ClinicalValueError):
        RecistCriteria(**kwargs)  # type: ignore[arg-type]


def test_invalid_series() -> None:
    with pytest.raises(ClinicalValueError, match="no target or non-target"):
        assess_series([lesion("N", 5.0, "lymph_node", node=True)], [at()])
    with pytest.raises(ClinicalValueError, match="no target or non-target"):
        assess_series([], [at()])
    with pytest.raises(ClinicalValueError, match="listed twice"):
        assess_series([lesion("L", 20.0)], [at(lesion("L", 20.0), lesion("L", 21.0))])
    with pytest.raises(ClinicalValueError, match="not a Timepoint"):
        assess_series([lesion("L", 20.0)], ["scan"])  # type: ignore[list-item]
    with pytest.raises(ClinicalValueError, match="not a LesionObservation"):
        Timepoint(("L",))  # type: ignore[arg-type]
    with pytest.raises(ClinicalValueError, match="new_lesion"):
        Timepoint((), new_lesion=None)  # type: ignore[arg-type]


def test_no_followups() -> None:
    assert assess_series([lesion("L", 20.0)], []) == ()


def test_timepoint_accepts_lists() -> None:
    tp = Timepoint([lesion("L", 20.0)], treated={"X"})  # type: ignore[arg-type]
    assert isinstance(tp.observations, tuple)
    assert tp.treated == frozenset({"X"})


# ------------------------------------------------------------------ properties

_sizes = st.lists(st.integers(min_value=10, max_value=80), min_size=2, max_size=5)
_followup = st.integers(min_value=0, max_value=120)


@given(
    sizes=_sizes,
    follow=st.lists(st.lists(_followup, min_size=5, max_size=5), min_size=1, max_size=4),
    drop=st.integers(min_value=0, max_value=4),
)
def test_treating_a_target_equals_removing_it(
    sizes: list[int], follow: list[list[int]], drop: int
) -> None:
    # every lesion in its own organ, so that all of them are targets
    ids = [f"L{i}" for i in range(len(sizes))]
    drop_id = ids[drop % len(ids)]
    baseline = [lesion(i, float(s), f"organ-{i}") for i, s in zip(ids, sizes, strict=False)]
    with_treated = [
        at(
            *(lesion(i, float(v), f"organ-{i}") for i, v in zip(ids, row, strict=False)),
            treated=frozenset({drop_id}),
        )
        for row in follow
    ]
    without = [
        at(
            *(
                lesion(i, float(v), f"organ-{i}")
                for i, v in zip(ids, row, strict=False)
                if i != drop_id
            )
        )
        for row in follow
    ]
    reduced = [b for b in baseline if b.lesion_id != drop_id]
    for a, b in zip(
        assess_series(baseline, with_treated), assess_series(reduced, without), strict=True
    ):
        assert a.target_response == b.target_response
        assert a.overall == b.overall
        assert (a.sum_mm, a.baseline_sum_mm, a.nadir_sum_mm) == (
            b.sum_mm,
            b.baseline_sum_mm,
            b.nadir_sum_mm,
        )


_ORDER = {"CR": 0, "PR": 1, "SD": 2, "PD": 3}


@given(sizes=_sizes, follow=st.lists(_followup, min_size=5, max_size=5), grow=_followup)
def test_larger_lesion_never_improves_the_response(
    sizes: list[int], follow: list[int], grow: int
) -> None:
    ids = [f"L{i}" for i in range(len(sizes))]
    baseline = [lesion(i, float(s), f"organ-{i}") for i, s in zip(ids, sizes, strict=False)]
    small = [lesion(i, float(v), f"organ-{i}") for i, v in zip(ids, follow, strict=False)]
    large = [lesion("L0", float(follow[0] + grow), "organ-L0"), *small[1:]]
    r_small = one(baseline, at(*small)).target_response
    r_large = one(baseline, at(*large)).target_response
    assert r_small is not None and r_large is not None
    assert _ORDER[r_large] >= _ORDER[r_small]


@given(sizes=_sizes, follow=st.lists(_followup, min_size=5, max_size=5), seed=st.randoms())
def test_order_of_observations_does_not_matter(
    sizes: list[int], follow: list[int], seed: random.Random
) -> None:
    ids = [f"L{i}" for i in range(len(sizes))]
    baseline = [lesion(i, float(s)) for i, s in zip(ids, sizes, strict=False)]
    seen = [lesion(i, float(v)) for i, v in zip(ids, follow, strict=False)]
    shuffled_baseline, shuffled_seen = baseline[:], seen[:]
    seed.shuffle(shuffled_baseline)
    seed.shuffle(shuffled_seen)
    assert one(baseline, at(*seen)) == one(shuffled_baseline, at(*shuffled_seen))


def test_history_lesion_records_stand_for_observations() -> None:
    from rfatrial.kernel import pathway  # noqa: F401  (registers the history's lesion records)
    from rfatrial.kernel.history import LesionMeasurement

    base = [
        LesionMeasurement(lesion_id="L1", diameter_mm=30.0),
        LesionMeasurement(lesion_id="L2", diameter_mm=20.0),
    ]
    seen = (
        LesionMeasurement(lesion_id="L1", diameter_mm=18.0),
        LesionMeasurement(lesion_id="L2", diameter_mm=12.0),
    )
    copied = [LesionObservation(m.lesion_id, m.organ, m.diameter_mm) for m in base]
    copied_seen = tuple(LesionObservation(m.lesion_id, m.organ, m.diameter_mm) for m in seen)
    assert assess_series(base, [Timepoint(seen)]) == assess_series(copied, [Timepoint(copied_seen)])

    class Other:
        lesion_id, organ, diameter_mm, is_node, too_small_to_measure = (
            "L1",
            "liver",
            3.0,
            False,
            False,
        )

    with pytest.raises(ClinicalValueError, match="is not a LesionObservation"):
        assess_series([Other()], [])  # type: ignore[list-item]
