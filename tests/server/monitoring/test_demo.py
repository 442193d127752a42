"""The demo study shows monitoring: automatic and manual queries (one answered) and a signed
casebook, made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from rfatrial.server.demo import prepare_demo
from rfatrial.server.monitoring.models import Query, Signature
from rfatrial.server.study.audit import verify_audit_trail

pytestmark = pytest.mark.django_db


def test_the_demo_has_open_queries_and_a_signature(tmp_path: Path) -> None:
    prepare_demo(tmp_path, patients=40)
    manual = Query.objects.filter(automatic=False)
    assert manual.count() == 3
    assert sorted(manual.values_list("status", flat=True)) == ["answered", "new", "new"]
    assert Query.objects.filter(automatic=True).exists()
    signatures = Signature.objects.filter(casebook=True, voided_at__isnull=True)
    assert signatures.count() >= 1 and {s.signer for s in signatures} == {"investigator"}
    before = Query.objects.count(), Signature.objects.count()
    prepare_demo(tmp_path, patients=40)  # started again: nothing more
    assert (Query.objects.count(), Signature.objects.count()) == before
    assert verify_audit_trail().ok
