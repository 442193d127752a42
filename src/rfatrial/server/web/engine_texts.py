"""The engine's texts in the user's language: next actions (what is due, and why) and deviations.

The kernel gives each text a message id and parameters (:mod:`rfatrial.kernel.messages`); this
table holds the same English templates, marked for translation, and :func:`engine_text` renders
one in the active language with the site's date format and the codes named (analytes, visit
components). A test checks the table holds exactly the kernel's ids and English templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from rfatrial.kernel.messages import CODE_LISTS, LAB_LISTS
from rfatrial.server.web.dates import DEFAULT_FORMAT, format_date
from rfatrial.server.web.terms import term

__all__ = ["ENGINE_TEXTS", "engine_text", "note_text"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LAB_WORDS = frozenset({"fail", "missing"})

ENGINE_TEXTS: dict[str, str | Promise] = {
    # the engine (rfatrial.kernel.messages)
    "action.randomize": _("Randomize"),
    "action.induction_cycle": _("Induction cycle {cycle}"),
    "action.consolidation_cycle": _("Consolidation cycle {cycle}"),
    "action.continuation_cycle": _("Systemic cycle (treatment continues while RFA is postponed)"),
    "action.response_scan": _("Response evaluation: enhanced CT/MRI + US/CEUS (RECIST 1.1)"),
    "action.repeat_response_scan": _(
        "Repeat response evaluation before RFA (the last one is stale)"
    ),
    "action.confirm_withdrawal": _(
        "Investigator to confirm withdrawal (pre-RFA lab gate still failing)"
    ),
    "action.rfa_session": _(
        "RFA session {session} of at most {max_sessions}: {min_lesions}-{max_lesions} lesions"
    ),
    "action.pre_rfa_labs": _("Pre-RFA labs: blood count, biochemistry, coagulation"),
    "action.post_rfa_scan": _("1-month enhanced {modalities} after RFA session {session}"),
    "action.follow_up_visit": _("Follow-up visit {visit}: {components}"),
    "why.randomize": _("eligible and consented at screening"),
    "why.induction_cycle.first": _(
        "induction {min_cycles}-{max_cycles} cycles; first cycle after randomization"
    ),
    "why.induction_cycle.regular": _(
        "induction {min_cycles}-{max_cycles} cycles; {regimen} every {cycle_days} days"
    ),
    "why.induction_cycle.delayed": _(
        "induction {min_cycles}-{max_cycles} cycles; {regimen} every {cycle_days} days; delayed: "
        "pre-cycle labs failed ({analytes})"
    ),
    "why.consolidation_cycle.first": _(
        "consolidation {min_cycles}-{max_cycles} cycles; first cycle after randomization"
    ),
    "why.consolidation_cycle.after_rfa": _(
        "consolidation {min_cycles}-{max_cycles} cycles; first consolidation cycle after RFA "
        "session {session}"
    ),
    "why.consolidation_cycle.regular": _(
        "consolidation {min_cycles}-{max_cycles} cycles; {regimen} every {cycle_days} days"
    ),
    "why.consolidation_cycle.delayed": _(
        "consolidation {min_cycles}-{max_cycles} cycles; {regimen} every {cycle_days} days; "
        "delayed: pre-cycle labs failed ({analytes})"
    ),
    "why.continuation_cycle.regular": _("{regimen} every {cycle_days} days"),
    "why.continuation_cycle.delayed": _(
        "{regimen} every {cycle_days} days; delayed: pre-cycle labs failed ({analytes})"
    ),
    "why.response_scan.induction": _(
        "{cycles} induction cycle(s) given ({min_cycles}-{max_cycles})"
    ),
    "why.response_scan.consolidation": _(
        "{cycles} consolidation cycle(s) given ({min_cycles}-{max_cycles})"
    ),
    "why.repeat_response_scan": _("the response scan that opened RFA is older than {days} days"),
    "why.confirm_withdrawal": _(
        "{failures} failed gate(s) since {first_failure}; limit {limit_failures} gates or "
        "{limit_days} days"
    ),
    "why.rfa_session": _(
        "therapy effective on {scan_date}; lab gate passed on {gate_date}; {remaining} lesion(s) "
        "remain"
    ),
    "why.pre_rfa_labs": _(
        "pre-RFA lab gate for session {session}, within {freshness_days} days before it"
    ),
    "why.pre_rfa_labs.postponed": _("RFA postponed: gate failed on {gate_date} ({failed})"),
    "why.post_rfa_scan": _("technique efficacy: complete ablation or residual tumour"),
    "why.follow_up_visit": _("every {every_months} months from randomization ({randomized})"),
    "deviation.randomized_without_screening": _("randomized with no screening record"),
    "deviation.randomized_ineligible": _(
        "randomized although screening found the patient not eligible"
    ),
    "deviation.cycle_too_early": _(
        "cycle given {days} days after the previous {regimen} cycle (cycle length {cycle_days} "
        "days)"
    ),
    "deviation.cycle_despite_failed_labs": _(
        "cycle given although pre-cycle labs failed: {failed}"
    ),
    "deviation.cycle_within_separation": _(
        "systemic cycle {days} days after RFA session {session} (at least {hold_days} required)"
    ),
    "deviation.induction_cycles_out_of_range": _(
        "{cycles} induction cycle(s) before the response scan ({min_cycles}-{max_cycles} required)"
    ),
    "deviation.consolidation_cycles_out_of_range": _(
        "{cycles} consolidation cycle(s) before the response scan ({min_cycles}-{max_cycles} "
        "required)"
    ),
    "deviation.rfa_before_randomization": _("RFA before randomization"),
    "deviation.rfa_in_control_arm": _(
        "RFA given to a patient of the control arm (systemic therapy alone)"
    ),
    "deviation.rfa_session_beyond_max": _("RFA session {session}: at most {max_sessions} sessions"),
    "deviation.rfa_after_progression": _("RFA session {session} after progression on therapy"),
    "deviation.rfa_after_progression.extrahepatic": _(
        "RFA session {session} after extrahepatic progression on therapy"
    ),
    "deviation.rfa_without_effective_response": _(
        "RFA session {session} without a response scan showing effective therapy since the last "
        "cycles"
    ),
    "deviation.rfa_response_evaluation_stale": _(
        "RFA session {session} {days} days after the response scan (at most {max_days})"
    ),
    "deviation.rfa_lab_gate_stale": _(
        "RFA session {session} without pre-RFA labs within {freshness_days} days (last {days} "
        "days before)"
    ),
    "deviation.rfa_lab_gate_stale.none": _(
        "RFA session {session} without pre-RFA labs within {freshness_days} days (none recorded)"
    ),
    "deviation.rfa_lab_gate_failed": _(
        "RFA session {session} although the pre-RFA lab gate did not pass: {failed}"
    ),
    "deviation.rfa_after_postponement_limit": _(
        "RFA session {session} after the postponement limit, when withdrawal was proposed"
    ),
    "deviation.rfa_within_separation": _(
        "RFA session {session} {days} days after a {regimen} cycle (at least {hold_days} required)"
    ),
    "deviation.rfa_too_many_lesions": _(
        "{count} lesions ablated in session {session} (at most {maximum})"
    ),
    "deviation.rfa_too_few_lesions": _(
        "{count} lesion(s) ablated in session {session} while {remaining} remained (at least "
        "{minimum})"
    ),
    "deviation.rfa_too_few_lesions_without_reason": _(
        "{count} lesion(s) ablated in session {session} with no recorded reason"
    ),
    "deviation.post_rfa_scan_out_of_window": _(
        "1-month scan of session {session} {days} days after it (target {target_days} ± "
        "{window_days})"
    ),
    "deviation.post_rfa_scan_missed": _("no 1-month scan after RFA session {session} by {latest}"),
    "deviation.visit_missed": _("follow-up visit {visit} not done by {latest}"),
    "deviation.visit_out_of_window": _(
        "follow-up visit {visit} on {day}, window {earliest} to {latest}"
    ),
    "deviation.visit_incomplete": _("follow-up visit {visit} without {components}"),
    # the ablation batch planner (rfatrial.kernel.batch_planner)
    "planner.diameter_not_measured": _("diameter not measured"),
    "planner.too_large": _("{size} mm > {maximum} mm (planner.max_diameter_mm)"),
    "planner.visibility_not_recorded": _("US/CEUS visibility not recorded"),
    "planner.not_visible": _("not visible on US/CEUS (planner.require_us_visible)"),
    "planner.critical_distance_not_recorded": _("distance to critical structures not recorded"),
    "planner.too_close_to_critical": _(
        "{distance} mm from a critical structure (< {minimum} mm, "
        "planner.min_distance_to_critical_mm)"
    ),
    "planner.margin_not_assessed": _("achievable margin not assessed"),
    "planner.margin_too_small": _("margin {margin} mm < {minimum} mm (rfa.min_margin_mm)"),
    "planner.larger_than_ideal": _(
        "{size} mm > {ideal} mm: complete ablation less likely (planner.ideal_max_diameter_mm)"
    ),
    "planner.margin_below_ideal": _("margin {margin} mm < ideal {ideal} mm"),
    "planner.heat_sink": _(
        "large vessel {distance} mm away: heat sink (planner.heat_sink_distance_mm)"
    ),
    "planner.unknown_lesion": _("{lesion} is not a lesion of this patient"),
    "planner.lesion_not_remaining": _("{lesion} is {status}, not a remaining liver lesion"),
    "planner.lesion_not_ablatable": _("{lesion} is not ablatable: {reasons}"),
    "planner.lesion_to_assess": _("{lesion} is to assess: {reasons}"),
    "planner.lesion_risk": _("{lesion}: {warning}"),
    "planner.no_lesion": _("no lesion is chosen for the session"),
    "planner.off_study": _("the patient is off study ({phase})"),
    "planner.no_planned_date": _("the session has no planned date"),
    "planner.planned_in_the_past": _(
        "the planned date {planned} is before today ({today}): a past session is recorded, not "
        "planned"
    ),
    "planner.changed_from_proposal.added": _(
        "the choice differs from the planner's proposal ({proposed}): added {added}"
    ),
    "planner.changed_from_proposal.left_out": _(
        "the choice differs from the planner's proposal ({proposed}): left out {left_out}"
    ),
    "planner.changed_from_proposal.both": _(
        "the choice differs from the planner's proposal ({proposed}): added {added}; left out "
        "{left_out}"
    ),
    "planned.deviation": _("{text}"),
    "planned.deviation.randomized_without_screening": _("randomized with no screening record"),
    "planned.deviation.randomized_ineligible": _(
        "randomized although screening found the patient not eligible"
    ),
    "planned.deviation.cycle_too_early": _(
        "cycle given {days} days after the previous {regimen} cycle (cycle length {cycle_days} "
        "days)"
    ),
    "planned.deviation.cycle_despite_failed_labs": _(
        "cycle given although pre-cycle labs failed: {failed}"
    ),
    "planned.deviation.cycle_within_separation": _(
        "systemic cycle {days} days after RFA session {session} (at least {hold_days} required)"
    ),
    "planned.deviation.induction_cycles_out_of_range": _(
        "{cycles} induction cycle(s) before the response scan ({min_cycles}-{max_cycles} required)"
    ),
    "planned.deviation.consolidation_cycles_out_of_range": _(
        "{cycles} consolidation cycle(s) before the response scan ({min_cycles}-{max_cycles} "
        "required)"
    ),
    "planned.deviation.rfa_before_randomization": _("RFA before randomization"),
    "planned.deviation.rfa_in_control_arm": _(
        "RFA given to a patient of the control arm (systemic therapy alone)"
    ),
    "planned.deviation.rfa_session_beyond_max": _(
        "RFA session {session}: at most {max_sessions} sessions"
    ),
    "planned.deviation.rfa_after_progression": _(
        "RFA session {session} after progression on therapy"
    ),
    "planned.deviation.rfa_after_progression.extrahepatic": _(
        "RFA session {session} after extrahepatic progression on therapy"
    ),
    "planned.deviation.rfa_without_effective_response": _(
        "RFA session {session} without a response scan showing effective therapy since the last "
        "cycles"
    ),
    "planned.deviation.rfa_response_evaluation_stale": _(
        "RFA session {session} {days} days after the response scan (at most {max_days})"
    ),
    "planned.deviation.rfa_lab_gate_stale": _(
        "RFA session {session} without pre-RFA labs within {freshness_days} days (last {days} "
        "days before)"
    ),
    "planned.deviation.rfa_lab_gate_stale.none": _(
        "RFA session {session} without pre-RFA labs within {freshness_days} days (none recorded)"
    ),
    "planned.deviation.rfa_lab_gate_failed": _(
        "RFA session {session} although the pre-RFA lab gate did not pass: {failed}"
    ),
    "planned.deviation.rfa_after_postponement_limit": _(
        "RFA session {session} after the postponement limit, when withdrawal was proposed"
    ),
    "planned.deviation.rfa_within_separation": _(
        "RFA session {session} {days} days after a {regimen} cycle (at least {hold_days} required)"
    ),
    "planned.deviation.rfa_too_many_lesions": _(
        "{count} lesions planned for session {session} (at most {maximum})"
    ),
    "planned.deviation.rfa_too_few_lesions": _(
        "{count} lesion(s) planned for session {session} while {remaining} remained (at least "
        "{minimum})"
    ),
    "planned.deviation.rfa_too_few_lesions_without_reason": _(
        "{count} lesion(s) planned for session {session} with no recorded reason"
    ),
    "planned.deviation.post_rfa_scan_out_of_window": _(
        "1-month scan of session {session} {days} days after it (target {target_days} ± "
        "{window_days})"
    ),
    "planned.deviation.post_rfa_scan_missed": _(
        "no 1-month scan after RFA session {session} by {latest}"
    ),
    "planned.deviation.visit_missed": _("follow-up visit {visit} not done by {latest}"),
    "planned.deviation.visit_out_of_window": _(
        "follow-up visit {visit} on {day}, window {earliest} to {latest}"
    ),
    "planned.deviation.visit_incomplete": _("follow-up visit {visit} without {components}"),
}


# parameters that are codes the pages name (a lesion's status, the patient's phase)
_CODES = frozenset({"status", "phase"})


def _value(name: str, value: Any, date_format: str) -> str:
    if isinstance(value, (list, tuple)):  # nested texts of the planner, joined
        return "; ".join(_value(name, v, date_format) for v in value)
    if hasattr(value, "key") and hasattr(value, "params"):  # a kernel Note
        return note_text(value, date_format)
    if isinstance(value, dict) and "key" in value:  # a Note read back from JSON
        return note_text(value, date_format)
    if isinstance(value, date):
        return format_date(value, date_format)
    if isinstance(value, str) and _ISO_DATE.match(value):  # a date read back from JSON
        return format_date(date.fromisoformat(value), date_format)
    if isinstance(value, float):
        return f"{value:g}"
    if name in _CODES:
        return term(value)
    if name in CODE_LISTS:
        sep = "/" if name == "modalities" else ", "
        return sep.join(term(code) for code in str(value).split(sep))
    if name in LAB_LISTS:
        # each failed criterion: "analyte [status] value (threshold)"; name the codes
        return ", ".join(
            " ".join(
                term(w) if k == 0 or w in _LAB_WORDS else ("—" if w == "None" else w)
                for k, w in enumerate(item.split(" "))
            )
            for item in str(value).split(", ")
        )
    return str(value)


def engine_text(
    key: str | None,
    params: Mapping[str, Any] | None,
    english: str,
    date_format: str = DEFAULT_FORMAT,
) -> str:
    """One text of the engine or the planner in the active language.

    ``key`` and ``params`` are the kernel's message id and parameters (from the engine's result
    or its stored row); ``english`` is the kernel's own text, shown when the id is unknown (a row
    stored before the ids existed) or its parameters do not fit the template.
    """
    template = ENGINE_TEXTS.get(key or "")
    if template is None:
        return english
    values = {k: _value(k, v, date_format) for k, v in (params or {}).items()}
    try:
        return str(template).format_map(values)
    except (KeyError, IndexError, ValueError):
        return english


def note_text(note: Any, date_format: str = DEFAULT_FORMAT) -> str:
    """A text of the planner (a kernel ``Note``, or its JSON) in the active language."""
    if isinstance(note, dict):
        key, params = note.get("key"), note.get("params") or {}
    else:
        key, params = note.key, note.params
    english = note.text if hasattr(note, "text") else str(key)
    return engine_text(key, params, english, date_format)
