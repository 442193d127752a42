"""RFA sessions in the pathway: opening the way to a session, the pre-RFA lab gate episode,
the rules a recorded session must keep, and what its 1-month scan tells."""

from __future__ import annotations

from rfatrial.kernel._walk import Walk, days, judge_gate, withdrawal_proposed_on
from rfatrial.kernel.history import (
    ImagingAssessment,
    LabPanel,
    PostRfaScan,
    RfaSession,
)

__all__ = ["open_rfa", "record_labs", "record_post_rfa_scan", "record_session"]


def open_rfa(w: Walk, scan: ImagingAssessment) -> None:
    """An effective response scan: prepare the next session, or end the RFA pathway."""
    if not w.remaining():
        if w.liver_ned():
            w.rfa_stopped, w.phase = "liver_ned", "follow_up"
        elif any(x.status == "ablated" for x in w.lesions.values()):
            w.phase = "consolidation"  # awaiting the 1-month scan of the last session
        else:
            w.rfa_stopped, w.phase = "no_liver_lesion", "follow_up"
        return
    if w.rfa_open is None:
        w.gate_failures, w.first_failure, w.gate_result = 0, None, None
        panel = w.last_panel
        w.rfa_open = scan
        w.phase = "rfa_preparation"
        if panel is not None and (scan.date - panel.date).days <= w.rules.gate_freshness_days:
            judge_gate(w, panel)
    else:
        w.rfa_open = scan


def record_labs(w: Walk, e: LabPanel) -> None:
    w.last_panel = e
    if w.rfa_open is not None and w.phase == "rfa_preparation":
        judge_gate(w, e)


def record_session(w: Walk, e: RfaSession, i: int) -> None:
    p = w.protocol
    number = len(w.sessions) + 1
    just = e.justification
    remaining_before = w.remaining()
    if w.randomized is None:
        w.deviate(
            "rfa_before_randomization",
            e.date,
            "deviation.rfa_before_randomization",
            {},
            "rfa",
            i,
            just,
        )
    elif w.arm == "control":
        w.deviate(
            "rfa_in_control_arm",
            e.date,
            "deviation.rfa_in_control_arm",
            {},
            "randomization.arms",
            i,
            just,
        )
    if number > w.rules.max_sessions:
        w.deviate(
            "rfa_session_beyond_max",
            e.date,
            "deviation.rfa_session_beyond_max",
            {"session": number, "max_sessions": p.rfa.max_sessions},
            "rfa.max_sessions",
            i,
            just,
        )
    elif w.arm == "experimental" and w.randomized is not None:
        if w.rfa_stopped in ("progression", "extrahepatic_progression"):
            w.deviate(
                "rfa_after_progression",
                e.date,
                "deviation.rfa_after_progression"
                + (".extrahepatic" if w.rfa_stopped == "extrahepatic_progression" else ""),
                {"session": number},
                "response.effective",
                i,
                just,
            )
        elif w.rfa_open is None:
            w.deviate(
                "rfa_without_effective_response",
                e.date,
                "deviation.rfa_without_effective_response",
                {"session": number},
                "response.effective",
                i,
                just,
            )
        elif (e.date - w.rfa_open.date).days > p.rfa.after_response_scan_days.latest:
            w.deviate(
                "rfa_response_evaluation_stale",
                e.date,
                "deviation.rfa_response_evaluation_stale",
                {
                    "session": number,
                    "days": (e.date - w.rfa_open.date).days,
                    "max_days": p.rfa.after_response_scan_days.latest,
                },
                "rfa.after_response_scan_days",
                i,
                just,
            )
    _session_gate_deviations(w, e, number, i)
    _session_separation_deviations(w, e, number, i)
    n = len(e.lesions)
    if n > w.rules.max_lesions_per_session:
        w.deviate(
            "rfa_too_many_lesions",
            e.date,
            "deviation.rfa_too_many_lesions",
            {"count": n, "session": number, "maximum": p.rfa.max_lesions_per_session},
            "rfa.max_lesions_per_session",
            i,
            just,
        )
    elif n < w.rules.min_lesions_per_session:
        if len(remaining_before) >= w.rules.min_lesions_per_session:
            w.deviate(
                "rfa_too_few_lesions",
                e.date,
                "deviation.rfa_too_few_lesions",
                {
                    "count": n,
                    "session": number,
                    "remaining": len(remaining_before),
                    "minimum": p.rfa.min_lesions_per_session,
                },
                "rfa.min_lesions_per_session",
                i,
                just,
            )
        elif just is None:
            w.deviate(
                "rfa_too_few_lesions_without_reason",
                e.date,
                "deviation.rfa_too_few_lesions_without_reason",
                {"count": n, "session": number},
                "rfa.min_lesions_per_session",
                i,
            )
    for a in e.lesions:
        x = w.lesion(a.lesion_id, e.date)
        x.sessions.append(number)
        x.set(e.date, "ablated" if a.technical_success else "residual")
    w.sessions.append((number, e))
    w.pending_scans.append(number)
    w.rfa_open, w.gate_failures, w.first_failure, w.gate_result = None, 0, None, None
    if w.arm == "experimental" and w.rfa_stopped is None and number >= p.rfa.max_sessions:
        w.rfa_stopped = "max_sessions"
    if w.rfa_stopped is None:
        w.phase, w.block, w.block_cycles = "consolidation", "consolidation", 0
    else:
        w.phase, w.block, w.block_cycles = "follow_up", None, 0


def _session_gate_deviations(w: Walk, e: RfaSession, number: int, i: int) -> None:
    p = w.protocol
    panel = w.last_panel
    if panel is None or (e.date - panel.date).days > w.rules.gate_freshness_days:
        params: dict[str, int] = {"session": number, "freshness_days": p.lab_gate.freshness_days}
        if panel is not None:
            params["days"] = (e.date - panel.date).days
        w.deviate(
            "rfa_lab_gate_stale",
            e.date,
            "deviation.rfa_lab_gate_stale" + ("" if panel is not None else ".none"),
            params,
            "lab_gate.freshness_days",
            i,
            e.justification,
        )
        return
    result = w.gate_check(panel)
    if not result.passed:
        w.deviate(
            "rfa_lab_gate_failed",
            e.date,
            "deviation.rfa_lab_gate_failed",
            {
                "session": number,
                "failed": ", ".join(
                    f"{c.key} {c.status} ({c.value}; {c.threshold})" for c in result.failed
                ),
            },
            "lab_gate.criteria",
            i,
            e.justification,
        )
    if withdrawal_proposed_on(w, e.date):
        w.deviate(
            "rfa_after_postponement_limit",
            e.date,
            "deviation.rfa_after_postponement_limit",
            {"session": number},
            "lab_gate.postponement_limit_days",
            i,
            e.justification,
        )


def _session_separation_deviations(w: Walk, e: RfaSession, number: int, i: int) -> None:
    for _, c in reversed(w.cycles):
        gap = (e.date - c.date).days
        hold = w.hold(c, before_rfa=True)
        if gap < hold:
            w.deviate(
                "rfa_within_separation",
                e.date,
                "deviation.rfa_within_separation",
                {"session": number, "days": gap, "regimen": c.regimen, "hold_days": hold},
                "rfa.separation_days",
                i,
                e.justification,
            )
            return
        if gap > w.max_hold:
            return


def record_post_rfa_scan(w: Walk, e: PostRfaScan, i: int) -> None:
    p = w.protocol
    due = [n for n in w.pending_scans if w.sessions[n - 1][1].date <= e.date]
    if not due:
        w.issues.append(f"events[{i}]: post-RFA scan with no session awaiting its 1-month scan")
    else:
        number = due[0]
        w.pending_scans.remove(number)
        session = w.sessions[number - 1][1]
        target = session.date + days(p.post_rfa_scan.days_after_rfa)
        off = abs((e.date - target).days)
        if off > p.post_rfa_scan.window_days:
            w.deviate(
                "post_rfa_scan_out_of_window",
                e.date,
                "deviation.post_rfa_scan_out_of_window",
                {
                    "session": number,
                    "days": (e.date - session.date).days,
                    "target_days": p.post_rfa_scan.days_after_rfa,
                    "window_days": p.post_rfa_scan.window_days,
                },
                "post_rfa_scan.window_days",
                i,
            )
    for res in e.results:
        x = w.lesions.get(res.lesion_id)
        if x is None or not x.sessions:
            w.issues.append(f"events[{i}]: {res.lesion_id} was never ablated")
            continue
        x.set(e.date, res.outcome)
    for m in e.new_lesions:
        w.lesion(m, e.date)
    if e.extrahepatic_progression and w.rfa_stopped is None and w.arm == "experimental":
        w.rfa_stopped, w.rfa_open, w.phase = "extrahepatic_progression", None, "follow_up"
    if w.rfa_stopped is None and w.arm == "experimental" and w.liver_ned() and w.sessions:
        w.rfa_stopped, w.phase, w.block = "liver_ned", "follow_up", None
    elif (
        w.rfa_stopped is None
        and w.block is None
        and w.rfa_open is None
        and w.last_effective is not None
        and w.remaining()
    ):
        # residual tumour found after the response scan that closed consolidation: plan it now
        open_rfa(w, w.last_effective)
