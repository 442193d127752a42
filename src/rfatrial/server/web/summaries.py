"""One line of text for each kind of event of the timeline."""

from __future__ import annotations

from typing import Any

__all__ = ["KIND_LABELS", "event_summary"]

KIND_LABELS = {
    "screening": "Screening",
    "randomization": "Randomization",
    "systemic_cycle": "Systemic cycle",
    "imaging": "Imaging",
    "lab_panel": "Lab panel",
    "rfa_session": "RFA session",
    "post_rfa_scan": "Post-RFA scan",
    "follow_up_visit": "Follow-up visit",
    "adverse_event": "Adverse event",
    "withdrawal": "Withdrawal",
    "death": "Death",
    "lost_to_follow_up": "Lost to follow-up",
}


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
            f"{'eligible' if e.eligible else 'not eligible'}, {e.liver_lesion_count} liver"
            f" lesion(s), RAS {e.ras_status.replace('_', ' ')}"
            + (f", ECOG {e.ecog}" if e.ecog is not None else "")
        )
    elif t == "randomization":
        text = f"arm {e.arm}"
    elif t == "systemic_cycle":
        agents = ", ".join(f"{a.name} {a.dose:g} {a.unit}" for a in e.agents)
        text = f"{e.regimen} (line {e.line})" + (f": {agents}" if agents else "")
    elif t == "imaging":
        text = f"{e.modality}, {e.purpose.replace('_', ' ')}: {_sizes(e.lesions)}"
        if e.new_lesions:
            text += f"; new: {_sizes(e.new_lesions)}"
        if e.local_progression:
            text += f"; local progression: {', '.join(e.local_progression)}"
        if e.extrahepatic_progression:
            text += "; extrahepatic progression"
    elif t == "lab_panel":
        text = ", ".join(f"{r.analyte} {r.value:g}" for r in e.results)
    elif t == "rfa_session":
        text = "lesions " + ", ".join(x.lesion_id for x in e.lesions)
        if e.complications:
            text += f"; {len(e.complications)} complication(s)"
    elif t == "post_rfa_scan":
        text = f"{e.modality}: " + ", ".join(f"{r.lesion_id} {r.outcome}" for r in e.results)
    elif t == "follow_up_visit":
        text = f"{e.visit_id}: " + ", ".join(c.replace("_", "/") for c in e.components)
    elif t == "adverse_event":
        text = f"{e.term}, grade {e.grade}" + (", serious" if e.serious else "")
    elif t == "withdrawal":
        text = f"{e.reason} (by the {e.initiated_by})"
    elif t == "death":
        text = e.cause
    return {"label": KIND_LABELS.get(t, t), "text": text}
