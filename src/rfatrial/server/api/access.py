"""Roles per site, applied to every request: what a user may see and do at which site.

- read: investigator, coordinator, monitor, data manager, statistician (the statistician sees
  pseudonymized data: a pseudonym instead of the study id, no free text, dates of history to the
  year);
- write clinical records: investigator, coordinator;
- randomize: investigator;
- read the audit trail: investigator, coordinator, monitor, data manager;
- manage the site's roles: administrator.

A patient of a site where the user holds no reading role does not exist for him (404); one he may
read but not change answers 403 to a write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError

from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor

__all__ = [
    "AUDIT",
    "RANDOMIZE",
    "READ",
    "WRITE",
    "Access",
    "pseudonym",
    "request_access",
    "request_actor",
    "study_today",
]

R = m.Role
READ = frozenset({R.INVESTIGATOR, R.COORDINATOR, R.MONITOR, R.DATA_MANAGER, R.STATISTICIAN})
FULL_READ = READ - {R.STATISTICIAN}
WRITE = frozenset({R.INVESTIGATOR, R.COORDINATOR})
RANDOMIZE = frozenset({R.INVESTIGATOR})
AUDIT = frozenset({R.INVESTIGATOR, R.COORDINATOR, R.MONITOR, R.DATA_MANAGER})
MANAGE = frozenset({R.ADMINISTRATOR})


def pseudonym(patient_pk: int) -> str:
    """A stable pseudonym of a patient (keyed by the server's secret; no study id in it)."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"patient:{patient_pk}".encode(), hashlib.sha256
    ).hexdigest()
    return "P-" + digest[:10].upper()


class Access:
    """The caller's roles by site id, read once per request."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self.by_site: dict[int, set[str]] = {}
        for site_id, role in m.SiteRole.objects.filter(user=user).values_list("site_id", "role"):
            self.by_site.setdefault(site_id, set()).add(role)

    def sites_with(self, roles: frozenset[str]) -> list[int]:
        return [s for s, held in self.by_site.items() if held & roles]

    def can(self, site_id: int, roles: frozenset[str]) -> bool:
        return bool(self.by_site.get(site_id, set()) & roles)

    def pseudonymized(self, site_id: int) -> bool:
        """Only a statistician's view of this site: identifiers and free text are withheld."""
        return not self.can(site_id, FULL_READ)

    def require(self, site_id: int, roles: frozenset[str], what: str) -> None:
        """403 (the user sees the site but lacks the role), 404 (he does not see it)."""
        if self.can(site_id, roles):
            return
        if self.can(site_id, READ | MANAGE):
            names = ", ".join(sorted(roles))
            raise HttpError(403, f"{what} needs one of these roles at the site: {names}")
        raise HttpError(404, "not found")

    def readable_patients(self) -> QuerySet[m.Patient]:
        return m.Patient.objects.filter(site_id__in=self.sites_with(READ)).select_related("site")

    def patient(self, patient_id: int) -> m.Patient:
        """The patient, if the user may read him (404 otherwise, as if he did not exist)."""
        patient = self.readable_patients().filter(pk=patient_id).first()
        if patient is None:
            raise HttpError(404, f"no patient {patient_id}")
        return patient

    def site(self, code: str, roles: frozenset[str] = READ) -> m.Site:
        site = m.Site.objects.filter(code=code).first()
        if site is None or not self.can(site.pk, roles | READ | MANAGE):
            raise HttpError(404, f"no site {code}")
        self.require(site.pk, roles, "this")
        return site


def request_access(request: HttpRequest) -> Access:
    """The signed-in user's roles per site, read once per request."""
    cached = getattr(request, "_rfatrial_access", None)
    if cached is None:
        cached = Access(request.auth)
        request._rfatrial_access = cached
    return cached


def request_actor(request: HttpRequest) -> Actor:
    """Who writes, and from where, for the audit trail."""
    return Actor(request.auth.get_username(), request.META.get("REMOTE_ADDR", ""))


def study_today() -> dt.date:
    """The study's today (the server's local date)."""
    return timezone.localdate()
