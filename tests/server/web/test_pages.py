"""The pages through Django's test client: sign-in, access by site, worklist, patient, entry."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.server.web.conftest import Study

pytestmark = pytest.mark.django_db


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pages_need_a_sign_in(study: Study) -> None:
    response = Client().get(reverse("web:worklist"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_sign_in_and_out() -> None:
    pass
