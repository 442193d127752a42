"""The interface language: English or Simplified Chinese, chosen per user, on every device."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from rfatrial.server.language.models import LanguagePreference
from tests.server.web.conftest import Study

pytestmark = pytest.mark.django_db


def choose(client: Client, language: str, next_url: str = "/worklist/") -> object:
    return client.post(reverse("set_language"), {"language": language, "next": next_url})


def test_english_by_default_and_for_an_english_browser(study: Study) -> None:
    client = Client()
    client.force_login(study.coordinator)
    page = client.get(reverse("web:worklist")).content.decode()
    assert '<html lang="en">' in page and "Sign out" in page
    page = client.get(reverse("web:worklist"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9").content
    assert "Sign out" in page.decode()


def test_a_chinese_browser_gets_chinese_before_any_choice(study: Study) -> None:
    page = Client().get(reverse("web:login"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content
    assert '<html lang="zh-hans">' in page.decode()
    assert "射频消融试验" in page.decode()


def test_a_user_choice_is_stored_and_follows_the_user_to_another_device(study: Study) -> None:
    laptop = Client()
    laptop.force_login(study.coordinator)
    response = choose(laptop, "zh-hans")
    assert response.status_code == 302 and response["Location"] == "/worklist/"
    assert LanguagePreference.objects.get(user=study.coordinator).language == "zh-hans"
    page = laptop.get(reverse("web:worklist")).content.decode()
    assert "退出登录" in page and "工作清单" in page and "Sign out" not in page

    # A tablet with an English browser: the user's own choice wins over the browser's.
    tablet = Client()
    tablet.force_login(study.coordinator)
    page = tablet.get(reverse("web:worklist"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content
    assert "退出登录" in page.decode()

    # Another user keeps English.
    other = Client()
    other.force_login(study.monitor)
    assert "Sign out" in other.get(reverse("web:worklist")).content.decode()

    choose(laptop, "en")
    assert "Sign out" in laptop.get(reverse("web:worklist")).content.decode()
    assert LanguagePreference.objects.get(user=study.coordinator).language == "en"


def test_an_unsupported_language_is_refused_and_changes_nothing(study: Study) -> None:
    client = Client()
    client.force_login(study.coordinator)
    choose(client, "zh-hans")
    response = choose(client, "fr")
    assert response.status_code == 400
    assert "language: must be one of en, zh-hans" in response.content.decode()
    assert LanguagePreference.objects.get(user=study.coordinator).language == "zh-hans"


def test_the_way_back_stays_on_this_server(study: Study) -> None:
    client = Client()
    client.force_login(study.coordinator)
    response = choose(client, "en", next_url="https://elsewhere.example/phish")
    assert response["Location"] == "/"


def test_changing_language_needs_the_csrf_token(study: Study) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(study.coordinator)
    assert choose(client, "zh-hans").status_code == 403
    assert not LanguagePreference.objects.filter(user=study.coordinator).exists()


def test_the_patient_page_names_codes_in_chinese(study: Study) -> None:
    client = Client()
    client.force_login(study.coordinator)
    choose(client, "zh-hans")
    page = client.get(reverse("web:patient", args=[study.patient_a.pk])).content.decode()
    assert '<th class="num">血小板</th>' in page  # the trend table's analytes
    assert "<title>血小板：" in page  # the chart's accessible title
    assert "试验组" in page and "experimental" not in page  # the arm in the timeline
    assert "CT, 基线:" in page  # the purpose of a scan
    assert "<span>女, 61 岁</span>" in page  # sex and age
    assert "血小板 180, 中性粒细胞 3.2" in page  # a lab panel in the timeline
    lab_form = client.get(reverse("web:record", args=[study.patient_a.pk, "lab_panel"]))
    assert ">血小板<" in lab_form.content.decode()


def test_the_lab_gate_names_its_criteria_in_chinese(study: Study) -> None:
    client = Client()
    client.force_login(study.coordinator)
    choose(client, "zh-hans")
    page = client.get(reverse("web:gate", args=[study.patient_a.pk])).content.decode()
    assert "<td>Child-Pugh 分级</td>" in page and "<td>属于 A 级</td>" in page
    assert "<td>血小板</td>" in page and "platelets" not in page
