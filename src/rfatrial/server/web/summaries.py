"""One line of text for each kind of event of the timeline."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from rfatrial.server.web.terms import term

__all__ = ["KIND_LABELS", "KIND_NAMES", "event_summary"]

# The English names are stored (in query subjects, the audit); pages show them translated.
KIND_NAMES: dict[str, str] = {
    "screening": gettext_noop("Screening"),
    "randomization": gettext_noop("Randomization"),
    "systemic_cycle": gettext_noop("Systemic cycle"),
    "imaging": gettext_noop("Imaging"),
    "lab_panel": gettext_noop("Lab panel"),
    "rfa_session": gettext_noop("RFA session"),
    "post_rfa_scan": gettext_noop("Post-RFA scan"),
    "follow_up_visit": gettext_noop("Follow-up visit"),
    "adverse_event": gettext_noop("Adverse event"),
    "withdrawal": gettext_noop("Withdrawal"),
    "death": gettext_noop("Death"),
    "lost_to_follow_up": gettext_noop("Lost to follow-up"),
}
KIND_LABELS: dict[str, str | Promise] = {k: gettext_lazy(v) for k, v in KIND_NAMES.items()}


def _sizes(items: Any) -> str:
    return ", ".join(
        f"{x.lesion_id} {x.diameter_mm:g} mm" if x.diameter_mm is not None else x.lesion_id
        for x in items
    )


def event_summary(e: Any) -> dict[str, str]:
    """``{"label": ..., "text": ...}`` for the timeline."""
    t = e.type
    text = ""
    if t == "screening":
        text = (
            (_("eligible") if e.eligible else _("not eligible"))
            + ", "
            + _("%(n)d liver lesion(s)") % {"n": e.liver_lesion_count}
            + f", RAS {term(e.ras_status)}, BRAF {term(e.braf_status)}"
            + (f", ECOG {e.ecog}" if e.ecog is not None else "")
        )
    elif t == "randomization":
        text = _("arm %(arm)s") % {"arm": term(e.arm)}
    elif t == "systemic_cycle":
        agents = ", ".join(f"{a.name} {a.dose:g} {a.unit}" for a in e.agents)
        text = f"{e.regimen} (" + _("line %(line)s") % {"line": e.line} + ")"
        text += f": {agents}" if agents else ""
    elif t == "imaging":
        text = f"{e.modality}, {term(e.purpose)}: {_sizes(e.lesions)}"
        if e.new_lesions:
            text += "; " + _("new: %(sizes)s") % {"sizes": _sizes(e.new_lesions)}
        if e.local_progression:
            text += "; " + _("local progression: %(ids)s") % {"ids": ", ".join(e.local_progression)}
        if e.extrahepatic_progression:
            text += "; " + _("extrahepatic progression")
    elif t == "lab_panel":
        text = ", ".join(f"{term(r.analyte)} {r.value:g}" for r in e.results)
    elif t == "rfa_session":
        text = _("lesions %(ids)s") % {"ids": ", ".join(x.lesion_id for x in e.lesions)}
        if e.complications:
            text += "; " + _("%(n)d complication(s)") % {"n": len(e.complications)}
    elif t == "post_rfa_scan":
        text = f"{e.modality}: " + ", ".join(f"{r.lesion_id} {r.outcome}" for r in e.results)
    elif t == "follow_up_visit":
        text = f"{e.visit_id}: " + ", ".join(c.replace("_", "/") for c in e.components)
    elif t == "adverse_event":
        text = f"{e.term}, " + _("grade %(grade)s") % {"grade": e.grade}
        text += ", " + _("serious") if e.serious else ""
    elif t == "withdrawal":
        text = f"{e.reason} (" + _("by the %(who)s") % {"who": e.initiated_by} + ")"
    elif t == "death":
        text = e.cause
    return {"label": str(KIND_LABELS.get(t, t)), "text": text}
