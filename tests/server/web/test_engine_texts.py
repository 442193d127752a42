"""The engine's texts (what is due, why, and each deviation) in the user's language, with the
site's dates, on the pages and in the worklist's exports."""

from __future__ import annotations

import re
from datetime import date
from string import Formatter

import pytest
from django.urls import reverse
from django.utils import translation

from rfatrial.kernel.batch_planner import PLANNER_TEMPLATES
from rfatrial.kernel.messages import TEMPLATES, placeholders
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import audited
from rfatrial.server.study.services import record_event
from rfatrial.server.web.engine_texts import ENGINE_TEXTS, engine_text
from rfatrial.server.web.models import SiteSettings
from tests.server.web.conftest import ADMIN, Study, cycle
from tests.server.web.test_entry import after_a_session, signed_in

pytestmark = pytest.mark.django_db


KERNEL_TEXTS = {**TEMPLATES, **PLANNER_TEMPLATES}


def test_the_table_holds_exactly_the_kernels_messages_in_english() -> None:
    assert set(ENGINE_TEXTS) == set(KERNEL_TEXTS)
    with translation.override("en"):
        assert {k: str(v) for k, v in ENGINE_TEXTS.items()} == KERNEL_TEXTS


def test_every_message_has_a_chinese_text_with_the_same_placeholders() -> None:
    with translation.override("zh-hans"):
        for key, text in ENGINE_TEXTS.items():
            chinese = str(text)
            words = re.sub(r"\{\w+\}|\(?[a-z_]+\.[a-z_.]+\)?", "", KERNEL_TEXTS[key])
            assert chinese != KERNEL_TEXTS[key] or not re.search("[a-z]{3}", words), key
            # every parameter fits: rendering with dummy values raises no KeyError
            assert engine_text(key, dict.fromkeys(_names(key), "1"), "fallback") != "fallback"


def _names(key: str) -> set[str]:
    if key in TEMPLATES:
        return set(placeholders(key))
    return {name for _, name, _, _ in Formatter().parse(PLANNER_TEMPLATES[key]) if name}


def test_codes_dates_and_failed_criteria_are_named_in_the_users_language() -> None:
    params = {"gate_date": "2026-03-04", "failed": "platelets 41.0 (≥ 50 10^9/L), inr None (≤ 1.5)"}
    english = "RFA postponed: gate failed on 2026-03-04 (platelets 41.0 (≥ 50 10^9/L), ...)"
    with translation.override("zh-hans"):
        text = engine_text("why.pre_rfa_labs.postponed", params, english, "dmy_slash")
    assert (
        text == "RFA 推迟：04/03/2026 实验室检查未通过（血小板 41.0 (≥ 50 10^9/L), INR — (≤ 1.5)）"
    )
    with translation.override("zh-hans"):
        visit = engine_text(
            "action.follow_up_visit", {"visit": "M3", "components": "us_ceus, labs"}, "x"
        )
    assert visit == "随访 M3：超声 / 超声造影, 实验室检查"


def test_an_unknown_id_or_a_stored_row_without_one_shows_the_kernels_english() -> None:
    with translation.override("zh-hans"):
        assert engine_text("", {}, "Randomize") == "Randomize"
        assert engine_text("action.gone", {}, "an old text") == "an old text"
        assert engine_text("action.induction_cycle", {}, "Induction cycle 2") == "Induction cycle 2"


def test_the_patient_page_and_worklist_speak_chinese_with_the_sites_dates(study: Study) -> None:
    patient = after_a_session(study)  # session 1 was 30 days ago
    with audited(ADMIN, "date format") as audit:
        audit.create(SiteSettings, site=study.site_a, date_format="dmy_slash")
    # a cycle 3 days after the session: inside the separation, recorded with a justification
    record_event(patient, cycle(-27), actor=ADMIN, justification="given by the oncology ward")
    stored = m.Deviation.objects.get(patient=patient, code="cycle_within_separation")
    assert stored.description_key == "deviation.cycle_within_separation"
    assert stored.params == {"days": 3, "session": 1, "hold_days": 7}
    scan_due = m.NextAction.objects.get(patient=patient, kind="post_rfa_scan")
    assert scan_due.what_key == "action.post_rfa_scan" and scan_due.params["session"] == 1

    client = signed_in(study.coordinator)
    english = client.get(reverse("web:patient", args=[patient.pk])).content.decode()
    assert stored.description in english and scan_due.what in english

    client.post(reverse("set_language"), {"language": "zh-hans"})
    page = client.get(reverse("web:patient", args=[patient.pk])).content.decode()
    assert "第 1 次 RFA 后 3 天进行系统治疗（至少需间隔 7 天）" in page
    assert stored.description not in page
    modalities = scan_due.params["modalities"]
    assert f"第 1 次 RFA 后 1 个月增强 {modalities}" in page
    worklist = client.get(reverse("web:worklist")).content.decode()
    assert f"第 1 次 RFA 后 1 个月增强 {modalities}" in worklist
    assert "technique efficacy" not in worklist and "技术有效性" in worklist
    ics = client.get(reverse("web:worklist_ics")).content.decode()
    assert "技术有效性" in ics


def test_a_date_parameter_is_written_in_the_sites_format() -> None:
    # a date from the engine, and the same date read back from the stored row's JSON
    with translation.override("en"):
        for value in (date(2026, 4, 14), "2026-04-14"):
            params = {"visit": "M3", "latest": value}
            text = engine_text("deviation.visit_missed", params, "x", "dmy_dot")
            assert text == "follow-up visit M3 not done by 14.04.2026"


def test_the_planners_texts_nested_and_read_back_from_json_speak_chinese() -> None:
    from rfatrial.kernel.batch_planner import LesionFeatures, Note, judge_lesion
    from rfatrial.kernel.protocol import default_protocol
    from rfatrial.server.planning.services import note_json
    from rfatrial.server.web.engine_texts import note_text

    verdict = judge_lesion(
        LesionFeatures("L3", 12.0, us_visible=True, margin_achievable_mm=3.0), default_protocol()
    )
    finding = Note(
        "planner.lesion_not_ablatable", {"lesion": "L3", "reasons": verdict.reason_notes}
    )
    assert finding.text == (
        "L3 is not ablatable: margin 3 mm < 5 mm (rfa.min_margin_mm);"
        " distance to critical structures not recorded"
    )
    with translation.override("zh-hans"):
        chinese = note_text(finding)
        assert note_text(note_json(finding)) == chinese  # the same from the stored JSON
    assert chinese == (
        "L3 不可消融：消融边缘 3 mm < 5 mm（rfa.min_margin_mm）; 未记录与重要结构的距离"
    )
