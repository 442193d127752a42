"""Who may see and write what: a user's sites (his roles), the site he works on now, his patients.

A user sees the patients of every site where he holds a role; the site selector narrows the lists
to one of them. A patient of any other site does not exist for him (404, never 403, so that study
ids of other sites are not disclosed). Clinical data is written by investigators, coordinators and
data managers of the patient's site.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor

__all__ = [
    "SESSION_SITE",
    "WRITER_ROLES",
    "actor_of",
    "can_write",
    "current_site",
    "patient_or_404",
    "post_only",
    "selected_sites",
    "signed_in",
    "user_roles",
    "user_sites",
]

SESSION_SITE = "web_site"
View = TypeVar("View", bound=Callable[..., HttpResponse])


def signed_in(view: View) -> View:
    """The view for signed-in users (others go to the sign-in page)."""
    return cast(View, login_required(view))


def post_only(view: View) -> View:
    """The view for POST requests only (405 otherwise)."""
    return cast(View, require_POST(view))


WRITER_ROLES = frozenset({m.Role.INVESTIGATOR, m.Role.COORDINATOR, m.Role.DATA_MANAGER})


def user_roles(user: Any) -> dict[str, set[str]]:
    """The user's roles by site code (cached on the user object for the request)."""
    cached = getattr(user, "_web_roles", None)
    if cached is not None:
        return cached
    roles: dict[str, set[str]] = {}
    if user.is_authenticated:
        for code, role in m.SiteRole.objects.filter(user=user).values_list("site__code", "role"):
            roles.setdefault(code, set()).add(role)
    user._web_roles = roles
    return roles


def user_sites(user: Any) -> list[str]:
    """The codes of the sites where the user holds a role, sorted."""
    return sorted(user_roles(user))


def current_site(request: HttpRequest) -> str | None:
    """The site chosen in the selector (one of the user's), or None for all his sites."""
    code = request.session.get(SESSION_SITE)
    return code if code in user_roles(request.user) else None


def selected_sites(request: HttpRequest) -> list[str]:
    """The sites the lists show: the chosen one, else all the user's sites."""
    code = current_site(request)
    return [code] if code else user_sites(request.user)


def patient_or_404(request: HttpRequest, pk: int) -> m.Patient:
    """The patient ``pk`` if he belongs to one of the user's sites; 404 otherwise."""
    patient = (
        m.Patient.objects.select_related("site")
        .filter(pk=pk, site__code__in=user_sites(request.user))
        .first()
    )
    if patient is None:
        raise Http404("no such patient")
    return patient


def can_write(user: Any, site_code: str) -> bool:
    """Whether the user records clinical data at the site."""
    return bool(user_roles(user).get(site_code, set()) & WRITER_ROLES)


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))[:45]


def actor_of(request: HttpRequest) -> Actor:
    """The audit trail's actor: the user name and the client's address."""
    return Actor(request.user.get_username(), client_ip(request))
