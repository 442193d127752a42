"""The readable, translatable names of the kernel's codes (phases, arms, actions, decisions).

The kernel speaks in stable codes (``rfa_preparation``); the pages show them in the user's
language. A code without a name here is shown with its underscores as spaces.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

__all__ = ["TERMS", "term", "threshold"]

TERMS: dict[str, str | Promise] = {
    # phases of the pathway
    "not_screened": _("not screened"),
    "screening": _("screening"),
    "screen_failure": _("screen failure"),
    "induction": _("induction"),
    "rfa_preparation": _("RFA preparation"),
    "consolidation": _("consolidation"),
    "follow_up": _("follow-up"),
    "withdrawn": _("withdrawn"),
    "lost_to_follow_up": _("lost to follow-up"),
    "deceased": _("deceased"),
    # groups of the dashboard's count
    "on study": _("on study"),
    "off study": _("off study"),
    "not randomized": _("not randomized"),
    # arms
    "control": _("control"),
    "experimental": _("experimental"),
    # next actions
    "randomize": _("randomize"),
    "systemic_cycle": _("systemic cycle"),
    "response_scan": _("response scan"),
    "pre_rfa_labs": _("pre-RFA labs"),
    "rfa_session": _("RFA session"),
    "post_rfa_scan": _("post-RFA scan"),
    "follow_up_visit": _("follow-up visit"),
    "confirm_withdrawal": _("confirm withdrawal"),
    # worklist
    "overdue": _("overdue"),
    "due": _("due"),
    "upcoming": _("upcoming"),
    # lab gate
    "proceed": _("proceed"),
    "postpone": _("postpone"),
    "withdrawal_proposed": _("withdrawal proposed"),
    "labs_needed": _("labs needed"),
    "pass": _("pass"),
    "fail": _("fail"),
    "missing": _("missing"),
    # lesions
    "active": _("active"),
    "ablated": _("ablated"),
    "complete": _("complete"),
    "residual": _("residual"),
    "local_progression": _("local progression"),
    "disappeared": _("disappeared"),
    # scans
    "baseline": _("baseline"),
    "response": _("response"),
    # analytes
    "child_pugh": _("Child-Pugh class"),
    "platelets": _("platelets"),
    "neutrophils": _("neutrophils"),
    "hemoglobin": _("hemoglobin"),
    "inr": "INR",
    "bilirubin": _("bilirubin"),
    "alt": "ALT",
    "ast": "AST",
    "alp": "ALP",
    "albumin": _("albumin"),
    "creatinine": _("creatinine"),
    "wbc": _("white blood cells"),
    "lymphocytes": _("lymphocytes"),
    "cea": "CEA",
    "egfr": "eGFR",
    "albi": "ALBI",
    # components of a follow-up visit
    "us_ceus": _("US / CEUS"),
    "ct_mri": _("CT / MRI"),
    "labs": _("Labs"),
    "tumour_markers": _("Tumour markers"),
    "ecg": _("ECG"),
    # status of a data query
    "new": pgettext_lazy("query status", "New"),
    "answered": _("Answered"),
    "closed": _("Closed"),
    # sex
    "F": _("female"),
    "M": _("male"),
    # molecular status
    "wild_type": _("wild type"),
    "mutant": _("mutant"),
    "unknown": _("unknown"),
    # liver function (Child-Pugh)
    "none": _("none"),
    "mild": _("mild"),
    "moderate_severe": _("moderate to severe"),
    "grade_1_2": _("grade 1-2"),
    "grade_3_4": _("grade 3-4"),
    # outcome of an adverse event
    "recovered": _("recovered"),
    "recovering": _("recovering"),
    "not_recovered": _("not recovered"),
    "sequelae": _("recovered with sequelae"),
    "fatal": _("fatal"),
    # who ended participation
    "patient": _("patient"),
    "investigator": _("investigator"),
    # why ablation stopped
    "liver_ned": _("no evidence of liver disease"),
    "no_liver_lesion": _("no liver lesion left"),
    "extrahepatic_progression": _("extrahepatic progression"),
}


def threshold(text: object) -> str:
    """A lab gate's threshold as the kernel writes it, in the active language: the limits are
    symbols (``≥ 50 10^9/L``), a class criterion is words (``in A`` for Child-Pugh)."""
    value = "" if text is None else str(text)
    if value.startswith("in "):
        return gettext("in %(allowed)s") % {"allowed": value[3:]}
    return value


def term(code: object) -> str:
    """The name of ``code`` in the active language: ``"rfa_preparation"`` → "RFA preparation"."""
    text = "" if code is None else str(code)
    name = TERMS.get(text)
    return str(name) if name is not None else text.replace("_", " ")
