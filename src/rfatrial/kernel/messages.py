"""The texts of the engine's results, by stable message id, for translation.

Every next action (what is due, and why) and every deviation the engine reports carries a message
id and its parameters; :data:`TEMPLATES` holds the English text of each id as a ``str.format``
template with named placeholders, and :func:`render` makes the English text. An application that
shows the results in another language keeps its own catalog of the same ids and renders the same
parameters into it; the parameters are values only (numbers, dates, lesion and visit ids, codes),
never English words, so a translation may put them in any order.

Parameters that are codes (a regimen, an analyte) are shown as they are; a parameter named in
:data:`CODE_LISTS` is a list of codes joined by ", " (analytes, follow-up visit components)
or "/" (imaging modalities), and one in :data:`LAB_LISTS` lists failed lab criteria, each as the
analyte code, its status code (``fail``, ``missing``) where the text says it, the value and the
threshold in symbols (``≥ 50 10^9/L``, ``≤ 5 × ULN (= 200 U/L)``), joined by ", ".

Examples
--------
>>> render("deviation.rfa_too_many_lesions", {"count": 7, "session": 1, "maximum": 6})
'7 lesions ablated in session 1 (at most 6)'
>>> from datetime import date
>>> render("deviation.visit_missed", {"visit": "M3", "latest": date(2026, 4, 14)})
'follow-up visit M3 not done by 2026-04-14'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from string import Formatter
from types import MappingProxyType
from typing import Final

__all__ = ["CODE_LISTS", "LAB_LISTS", "TEMPLATES", "Param", "Params", "placeholders", "render"]

Param = str | int | float | date
Params = Mapping[str, Param]

_CYCLE_REASONS: Final = {
    "first": "first cycle after randomization",
    "after_rfa": "first consolidation cycle after RFA session {session}",
    "regular": "{regimen} every {cycle_days} days",
    "delayed": "{regimen} every {cycle_days} days; delayed: pre-cycle labs failed ({analytes})",
}

_TEMPLATES: Final[dict[str, str]] = {
    # ---- next actions: what is due ----
    "action.randomize": "Randomize",
    "action.induction_cycle": "Induction cycle {cycle}",
    "action.consolidation_cycle": "Consolidation cycle {cycle}",
    "action.continuation_cycle": "Systemic cycle (treatment continues while RFA is postponed)",
    "action.response_scan": "Response evaluation: enhanced CT/MRI + US/CEUS (RECIST 1.1)",
    "action.repeat_response_scan": "Repeat response evaluation before RFA (the last one is stale)",
    "action.confirm_withdrawal": (
        "Investigator to confirm withdrawal (pre-RFA lab gate still failing)"
    ),
    "action.rfa_session": (
        "RFA session {session} of at most {max_sessions}: {min_lesions}-{max_lesions} lesions"
    ),
    "action.pre_rfa_labs": "Pre-RFA labs: blood count, biochemistry, coagulation",
    "action.post_rfa_scan": "1-month enhanced {modalities} after RFA session {session}",
    "action.follow_up_visit": "Follow-up visit {visit}: {components}",
    # ---- next actions: why ----
    "why.randomize": "eligible and consented at screening",
    # a cycle of a block: the block's range, then why this date (one sentence per combination)
    **{
        f"why.{block}_cycle.{reason}": f"{block} {{min_cycles}}-{{max_cycles}} cycles; {text}"
        for block in ("induction", "consolidation")
        for reason, text in _CYCLE_REASONS.items()
        if block == "consolidation" or reason != "after_rfa"
    },
    "why.continuation_cycle.regular": _CYCLE_REASONS["regular"],
    "why.continuation_cycle.delayed": _CYCLE_REASONS["delayed"],
    "why.response_scan.induction": (
        "{cycles} induction cycle(s) given ({min_cycles}-{max_cycles})"
    ),
    "why.response_scan.consolidation": (
        "{cycles} consolidation cycle(s) given ({min_cycles}-{max_cycles})"
    ),
    "why.repeat_response_scan": "the response scan that opened RFA is older than {days} days",
    "why.confirm_withdrawal": (
        "{failures} failed gate(s) since {first_failure}; limit {limit_failures} gates or"
        " {limit_days} days"
    ),
    "why.rfa_session": (
        "therapy effective on {scan_date}; lab gate passed on {gate_date};"
        " {remaining} lesion(s) remain"
    ),
    "why.pre_rfa_labs": (
        "pre-RFA lab gate for session {session}, within {freshness_days} days before it"
    ),
    "why.pre_rfa_labs.postponed": "RFA postponed: gate failed on {gate_date} ({failed})",
    "why.post_rfa_scan": "technique efficacy: complete ablation or residual tumour",
    "why.follow_up_visit": "every {every_months} months from randomization ({randomized})",
    # ---- deviations ----
    "deviation.randomized_without_screening": "randomized with no screening record",
    "deviation.randomized_ineligible": (
        "randomized although screening found the patient not eligible"
    ),
    "deviation.cycle_too_early": (
        "cycle given {days} days after the previous {regimen} cycle (cycle length"
        " {cycle_days} days)"
    ),
    "deviation.cycle_despite_failed_labs": "cycle given although pre-cycle labs failed: {failed}",
    "deviation.cycle_within_separation": (
        "systemic cycle {days} days after RFA session {session} (at least {hold_days} required)"
    ),
    "deviation.induction_cycles_out_of_range": (
        "{cycles} induction cycle(s) before the response scan ({min_cycles}-{max_cycles} required)"
    ),
    "deviation.consolidation_cycles_out_of_range": (
        "{cycles} consolidation cycle(s) before the response scan"
        " ({min_cycles}-{max_cycles} required)"
    ),
    "deviation.rfa_before_randomization": "RFA before randomization",
    "deviation.rfa_in_control_arm": (
        "RFA given to a patient of the control arm (systemic therapy alone)"
    ),
    "deviation.rfa_session_beyond_max": "RFA session {session}: at most {max_sessions} sessions",
    "deviation.rfa_after_progression": "RFA session {session} after progression on therapy",
    "deviation.rfa_after_progression.extrahepatic": (
        "RFA session {session} after extrahepatic progression on therapy"
    ),
    "deviation.rfa_without_effective_response": (
        "RFA session {session} without a response scan showing effective therapy since the last"
        " cycles"
    ),
    "deviation.rfa_response_evaluation_stale": (
        "RFA session {session} {days} days after the response scan (at most {max_days})"
    ),
    "deviation.rfa_lab_gate_stale": (
        "RFA session {session} without pre-RFA labs within {freshness_days} days"
        " (last {days} days before)"
    ),
    "deviation.rfa_lab_gate_stale.none": (
        "RFA session {session} without pre-RFA labs within {freshness_days} days (none recorded)"
    ),
    "deviation.rfa_lab_gate_failed": (
        "RFA session {session} although the pre-RFA lab gate did not pass: {failed}"
    ),
    "deviation.rfa_after_postponement_limit": (
        "RFA session {session} after the postponement limit, when withdrawal was proposed"
    ),
    "deviation.rfa_within_separation": (
        "RFA session {session} {days} days after a {regimen} cycle (at least {hold_days} required)"
    ),
    "deviation.rfa_too_many_lesions": (
        "{count} lesions ablated in session {session} (at most {maximum})"
    ),
    "deviation.rfa_too_few_lesions": (
        "{count} lesion(s) ablated in session {session} while {remaining} remained"
        " (at least {minimum})"
    ),
    "deviation.rfa_too_few_lesions_without_reason": (
        "{count} lesion(s) ablated in session {session} with no recorded reason"
    ),
    "deviation.post_rfa_scan_out_of_window": (
        "1-month scan of session {session} {days} days after it"
        " (target {target_days} ± {window_days})"
    ),
    "deviation.post_rfa_scan_missed": "no 1-month scan after RFA session {session} by {latest}",
    "deviation.visit_missed": "follow-up visit {visit} not done by {latest}",
    "deviation.visit_out_of_window": (
        "follow-up visit {visit} on {day}, window {earliest} to {latest}"
    ),
    "deviation.visit_incomplete": "follow-up visit {visit} without {components}",
}

TEMPLATES: Final[Mapping[str, str]] = MappingProxyType(_TEMPLATES)
"""Message id → English ``str.format`` template with named placeholders."""

CODE_LISTS: Final = frozenset({"analytes", "components", "modalities"})
"""Parameters that list codes: analytes and follow-up components joined by ", ", imaging
modalities by "/"."""

LAB_LISTS: Final = frozenset({"failed"})
"""Parameters that list failed lab criteria (analyte code, value, threshold in symbols)."""

_FIELDS: Final[dict[str, frozenset[str]]] = {
    key: frozenset(name for _, name, _, _ in Formatter().parse(text) if name)
    for key, text in _TEMPLATES.items()
}


def placeholders(key: str) -> frozenset[str]:
    """The names of the placeholders of message ``key``."""
    return _FIELDS[key]


def render(key: str, params: Params) -> str:
    """The English text of message ``key`` with ``params`` (dates in ISO format)."""
    return _TEMPLATES[key].format_map(
        {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}
    )
