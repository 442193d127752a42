"""What is due for a patient: the next actions the engine proposes, each with its window and
the protocol rule it comes from. Every proposal keeps the rules (never a session inside a hold,
never a 4th session, never after progression or a failed gate)."""

from __future__ import annotations

from datetime import date

from rfatrial.kernel._walk import DAY, Walk, days, withdrawal_proposed_on
from rfatrial.kernel.evaluation import (
    ActionKind,
    NextAction,
)
from rfatrial.kernel.follow_up import follow_up_calendar
from rfatrial.kernel.history import ImagingAssessment
from rfatrial.kernel.lab_gate import check_panel
from rfatrial.kernel.messages import Param, Params

__all__ = ["next_actions"]


def _action(
    w: Walk,
    kind: ActionKind,
    what: str,
    why: str,
    params: Params,
    rule: str,
    earliest: date,
    target: date,
    latest: date,
    *,
    session: int | None = None,
    visit_id: str | None = None,
    lesions: tuple[str, ...] = (),
) -> NextAction:
    """A next action whose texts are the messages ``what`` and ``why`` with ``params``."""
    target = min(max(target, earliest), latest)
    return NextAction(
        kind,
        rule,
        earliest,
        target,
        latest,
        w.today > latest,
        what,
        why,
        params,
        session,
        visit_id,
        lesions,
    )


def next_actions(w: Walk) -> list[NextAction]:
    p = w.protocol
    out: list[NextAction] = []
    if w.randomized is None:
        if w.phase == "screening" and w.screened is not None:
            out.append(
                _action(
                    w,
                    "randomize",
                    "action.randomize",
                    "why.randomize",
                    {},
                    "randomization.randomize_within_days",
                    w.screened,
                    w.screened,
                    w.screened + days(p.randomization.randomize_within_days),
                )
            )
        return out
    if w.block is not None:
        out.extend(_block_actions(w))
    if w.phase == "rfa_preparation" and w.rfa_open is not None:
        out.extend(_rfa_actions(w, w.rfa_open))
    out.extend(_post_scan_actions(w))
    out.extend(_visit_actions(w))
    out.sort(key=lambda a: (a.target, a.kind))
    return out


_Window = tuple[date, date, date, str, dict[str, Param]]


def _next_cycle_window(w: Walk) -> _Window | None:
    """Earliest, target, latest date of the next cycle and why (the reason: ``first``,
    ``after_rfa``, ``regular`` or ``delayed``, and its parameters), or None if not computable."""
    p = w.protocol
    assert w.randomized is not None
    if not w.cycles:
        win = p.systemic.first_cycle_after_randomization_days
        r = w.randomized
        return (
            r + days(win.earliest),
            r + days(win.target),
            r + days(win.latest),
            "first",
            {},
        )
    last = w.cycles[-1][1]
    length = w.rules.cycle_length(last.regimen)
    if length is None:
        return None
    if w.block == "consolidation" and w.block_cycles == 0 and w.sessions:
        session = w.sessions[-1][1]
        hold = w.hold(last, before_rfa=False)
        start = max(
            session.date + days(max(hold, p.rfa.separation_days)),
            last.date + days(length - p.systemic.cycle_window_days),
        )
        latest = session.date + days(p.consolidation.start_latest_days or 28)
        latest = max(latest, start)
        return (
            start,
            start,
            latest,
            "after_rfa",
            {"session": len(w.sessions)},
        )
    target = last.date + days(length)
    why = "regular"
    params: dict[str, Param] = {"regimen": last.regimen, "cycle_days": length}
    panel = w.last_panel
    if panel is not None and panel.date >= last.date and not w.pre_cycle_labs_pass(panel):
        failed = [c for c in check_panel(panel, p.systemic.pre_cycle_labs).failed]
        if any(c.status == "fail" for c in failed):
            target = max(target, panel.date + days(p.systemic.cycle_delay_days))
            why = "delayed"
            params["analytes"] = ", ".join(c.key for c in failed)
    window = days(p.systemic.cycle_window_days)
    for _, s in w.sessions:  # never propose a cycle inside the hold after a session
        hold = w.hold(last, before_rfa=False)
        target = max(target, s.date + days(max(hold, p.rfa.separation_days)))
    return target - window, target, target + window, why, params


def _block_actions(w: Walk) -> list[NextAction]:
    p = w.protocol
    rng = p.induction if w.block == "induction" else p.consolidation
    out = []
    if w.block_cycles < rng.max_cycles:
        nxt = _next_cycle_window(w)
        if nxt is not None:
            e, t, l_, why, params = nxt
            params["cycle"] = w.block_cycles + 1
            params["min_cycles"], params["max_cycles"] = rng.min_cycles, rng.max_cycles
            out.append(
                _action(
                    w,
                    "systemic_cycle",
                    f"action.{w.block}_cycle",
                    f"why.{w.block}_cycle.{why}",
                    params,
                    f"{w.block}.max_cycles",
                    e,
                    t,
                    l_,
                )
            )
    if w.block_cycles >= rng.min_cycles and w.cycles:
        last = w.cycles[-1][1].date
        win = p.response.scan_after_last_cycle_days
        out.append(
            _action(
                w,
                "response_scan",
                "action.response_scan",
                f"why.response_scan.{w.block}",
                {
                    "cycles": w.block_cycles,
                    "min_cycles": rng.min_cycles,
                    "max_cycles": rng.max_cycles,
                },
                "response.scan_after_last_cycle_days",
                last + days(win.earliest),
                last + days(win.target),
                last + days(win.latest),
            )
        )
    return out


def _separation_clear(w: Walk) -> date:
    """First day an RFA session may take place given every cycle's hold."""
    clear = date.min
    for _, c in reversed(w.cycles):
        if c.date + days(w.max_hold) <= clear:
            break  # older cycles cannot hold the session any later
        clear = max(clear, c.date + days(w.hold(c, before_rfa=True)))
    return clear


def _rfa_actions(w: Walk, scan: ImagingAssessment) -> list[NextAction]:
    p = w.protocol
    gate = p.lab_gate
    number = len(w.sessions) + 1
    candidates = tuple(w.remaining())
    win = p.rfa.after_response_scan_days
    scan_latest = scan.date + days(win.latest)
    rfa_earliest = max(scan.date + days(win.earliest), _separation_clear(w))
    if withdrawal_proposed_on(w, w.today) or (w.gate_failures >= gate.postponement_limit_failures):
        assert w.first_failure is not None
        limit = min(
            w.first_failure + days(gate.postponement_limit_days),
            w.gate_result.panel_date if w.gate_result else w.today,
        )
        return [
            _action(
                w,
                "confirm_withdrawal",
                "action.confirm_withdrawal",
                "why.confirm_withdrawal",
                {
                    "failures": w.gate_failures,
                    "first_failure": w.first_failure,
                    "limit_failures": gate.postponement_limit_failures,
                    "limit_days": gate.postponement_limit_days,
                },
                "lab_gate.postponement_limit_days",
                limit,
                limit,
                limit + days(gate.confirm_withdrawal_within_days),
                session=number,
            )
        ]
    if rfa_earliest > scan_latest:
        return [_repeat_scan(w, scan_latest)]
    if w.pending_scans:
        return []  # the next session is planned once the last one's 1-month scan is read
    result = w.gate_result
    if result is not None and result.passed:
        latest = min(scan_latest, result.panel_date + days(gate.freshness_days))
        earliest = max(rfa_earliest, result.panel_date)
        if earliest <= latest:
            return [
                _action(
                    w,
                    "rfa_session",
                    "action.rfa_session",
                    "why.rfa_session",
                    {
                        "session": number,
                        "max_sessions": p.rfa.max_sessions,
                        "min_lesions": p.rfa.min_lesions_per_session,
                        "max_lesions": p.rfa.max_lesions_per_session,
                        "scan_date": scan.date,
                        "gate_date": result.panel_date,
                        "remaining": len(candidates),
                    },
                    "rfa.max_sessions",
                    earliest,
                    scan.date + days(win.target),
                    latest,
                    session=number,
                    lesions=candidates,
                )
            ]
    # Labs are needed: first, repeated after a failure, or fresher for the earliest session date.
    out = []
    labs_earliest = rfa_earliest - days(gate.freshness_days)
    why = "why.pre_rfa_labs"
    params: dict[str, Param] = {"session": number, "freshness_days": gate.freshness_days}
    if result is not None and not result.passed:
        labs_earliest = max(labs_earliest, result.panel_date + days(gate.repeat_after_days))
        failed = ", ".join(f"{c.key} {c.value} ({c.threshold})" for c in result.failed)
        why = "why.pre_rfa_labs.postponed"
        params = {"gate_date": result.panel_date, "failed": failed}
        nxt = _continuation_cycle(w)
        if nxt is not None:
            out.append(nxt)
    elif result is not None:
        labs_earliest = max(labs_earliest, result.panel_date + DAY)
    labs_earliest = max(labs_earliest, scan.date)
    labs_latest = max(scan_latest, labs_earliest)
    out.append(
        _action(
            w,
            "pre_rfa_labs",
            "action.pre_rfa_labs",
            why,
            params,
            "lab_gate.freshness_days",
            labs_earliest,
            max(labs_earliest, rfa_earliest - days(min(3, gate.freshness_days))),
            labs_latest,
            session=number,
        )
    )
    return out


def _continuation_cycle(w: Walk) -> NextAction | None:
    """While RFA is postponed, systemic therapy continues."""
    if not w.cycles:
        return None
    saved = w.block
    w.block = None
    nxt = _next_cycle_window(w)
    w.block = saved
    if nxt is None:
        return None
    e, t, l_, why, params = nxt
    return _action(
        w,
        "systemic_cycle",
        "action.continuation_cycle",
        f"why.continuation_cycle.{why}",
        params,
        "lab_gate.repeat_after_days",
        e,
        t,
        l_,
    )


def _repeat_scan(w: Walk, stale_from: date) -> NextAction:
    start = stale_from + DAY
    return _action(
        w,
        "response_scan",
        "action.repeat_response_scan",
        "why.repeat_response_scan",
        {"days": w.protocol.rfa.after_response_scan_days.latest},
        "rfa.after_response_scan_days",
        start,
        start,
        start + days(14),
    )


def _post_scan_actions(w: Walk) -> list[NextAction]:
    p = w.protocol.post_rfa_scan
    out = []
    for number in w.pending_scans:
        s = w.sessions[number - 1][1]
        target = s.date + days(p.days_after_rfa)
        window = days(p.window_days)
        out.append(
            _action(
                w,
                "post_rfa_scan",
                "action.post_rfa_scan",
                "why.post_rfa_scan",
                {"modalities": "/".join(p.modalities), "session": number},
                "post_rfa_scan.days_after_rfa",
                target - window,
                target,
                target + window,
                session=number,
            )
        )
    return out


def _visit_actions(w: Walk) -> list[NextAction]:
    assert w.randomized is not None
    calendar = follow_up_calendar(w.randomized, w.protocol)
    out = []
    upcoming: date | None = None
    for v in calendar:
        if v.visit_id in w.visits:
            continue
        if v.earliest > w.today:
            # the first upcoming visit date (and any visit on the same date) is shown ahead
            if upcoming is None:
                upcoming = v.target
            if v.target != upcoming:
                break
        elif v.latest < w.today and (v.superseded_on is None or v.superseded_on <= w.today):
            continue  # missed: reported as a deviation, no longer actionable
        out.append(
            _action(
                w,
                "follow_up_visit",
                "action.follow_up_visit",
                "why.follow_up_visit",
                {
                    "visit": v.visit_id,
                    "components": ", ".join(v.components),
                    "every_months": v.every_months,
                    "randomized": w.randomized,
                },
                "follow_up.periods",
                v.earliest,
                v.target,
                v.latest,
                visit_id=v.visit_id,
            )
        )
    return out
