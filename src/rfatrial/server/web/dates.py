"""Dates in the site's format: shown on every page, read back from every date field.

Each site chooses how its people write dates (:data:`~rfatrial.server.web.models.DATE_FORMATS`:
ISO ``2026-11-27``, ``27/11/2026``, ``11/27/2026`` or ``27.11.2026``). A page about a patient
uses the patient's site; the lists use the site chosen in the selector, or the user's sites when
they all agree. Where sites disagree, ISO is used: it cannot be misread.

Date fields accept the site's format and ISO (which no other format can be confused with).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from rfatrial.server.study import models as m
from rfatrial.server.study.audit import audited
from rfatrial.server.web.access import actor_of, current_site, signed_in, user_roles, user_sites
from rfatrial.server.web.models import DATE_FORMATS, SiteSettings

__all__ = [
    "DEFAULT_FORMAT",
    "SiteDateField",
    "format_date",
    "format_for_request",
    "format_of_site",
    "parse_date",
    "placeholder",
    "site_settings_view",
]

DEFAULT_FORMAT = "iso"
ISO = "%Y-%m-%d"


def _pattern(code: str) -> str:
    return DATE_FORMATS.get(code, DATE_FORMATS[DEFAULT_FORMAT])[1]


def placeholder(code: str) -> str:
    """How a date is typed in this format: ``DD/MM/YYYY``."""
    return DATE_FORMATS.get(code, DATE_FORMATS[DEFAULT_FORMAT])[2]


def format_date(value: Any, code: str = DEFAULT_FORMAT) -> str:
    """``value`` (a date, a datetime or an ISO string) written in format ``code``.

    Parameters
    ----------
    value
        A :class:`~datetime.date`, a :class:`~datetime.datetime` (its date) or an ISO
        ``YYYY-MM-DD`` string; anything else is returned as text, and None as an empty string.
    code
        A key of :data:`~rfatrial.server.web.models.DATE_FORMATS` (an unknown one means ISO).

    Examples
    --------
    >>> format_date(date(2026, 11, 27), "dmy_dot")
    '27.11.2026'
    """
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, date):
        return str(value)
    return value.strftime(_pattern(code))


def parse_date(text: str, code: str = DEFAULT_FORMAT) -> date:
    """The date written as ``text`` in format ``code``, or in ISO.

    Raises
    ------
    ValueError
        When ``text`` is neither (the message says how to write it).
    """
    text = text.strip()
    for pattern in (_pattern(code), ISO):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a date written as {placeholder(code)}")


def format_of_site(code: str | None) -> str:
    """The date format of the site ``code`` (ISO when it has none)."""
    if not code:
        return DEFAULT_FORMAT
    row = SiteSettings.objects.filter(site__code=code).values_list("date_format", flat=True)
    return row.first() or DEFAULT_FORMAT


def format_for_request(request: HttpRequest, site_code: str | None = None) -> str:
    """The date format for this request: of ``site_code`` (a patient's site) when given, else of
    the site chosen in the selector, else the one the user's sites share (ISO if they differ).

    Cached on the request, so a page of many dates asks the database once.
    """
    cache: dict[str | None, str] = request.__dict__.setdefault("_date_formats", {})
    if site_code in cache:
        return cache[site_code]
    if site_code:
        code = format_of_site(site_code)
    elif getattr(request, "user", None) is None or not request.user.is_authenticated:
        code = DEFAULT_FORMAT
    else:
        chosen = current_site(request)
        sites = [chosen] if chosen else user_sites(request.user)
        formats = {
            SiteSettings.objects.filter(site__code=s).values_list("date_format", flat=True).first()
            or DEFAULT_FORMAT
            for s in sites
        }
        code = formats.pop() if len(formats) == 1 else DEFAULT_FORMAT
    cache[site_code] = code
    return code


class SiteDateInput(forms.TextInput):
    """A text box for a date in the site's format (its placeholder shows how to write it)."""

    def __init__(self, code: str = DEFAULT_FORMAT, attrs: dict[str, Any] | None = None) -> None:
        attrs = {"placeholder": placeholder(code), "inputmode": "numeric", **(attrs or {})}
        super().__init__(attrs=attrs)
        self.code = code

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, date):
            return format_date(value, self.code)
        return super().format_value(value)


class SiteDateField(forms.DateField):
    """A date typed in the site's format (or ISO); the error says how to write it."""

    def __init__(self, *args: Any, code: str = DEFAULT_FORMAT, **kwargs: Any) -> None:
        kwargs.setdefault("widget", SiteDateInput(code))
        super().__init__(*args, **kwargs)
        self.use_format(code)

    def use_format(self, code: str) -> None:
        """Read and show dates in format ``code`` from now on."""
        self.code = code
        self.input_formats = [_pattern(code), ISO]
        if isinstance(self.widget, SiteDateInput):
            self.widget.code = code
            self.widget.attrs["placeholder"] = placeholder(code)
        message = _("Enter a date as %(format)s (for example %(example)s).")
        self.error_messages["invalid"] = message % {
            "format": placeholder(code),
            "example": format_date(date.today(), code),
        }


# --- the site's choice ------------------------------------------------------------------------


class DateFormatForm(forms.Form):
    date_format = forms.ChoiceField(
        choices=[(code, label) for code, (label, _p, _h) in DATE_FORMATS.items()],
        widget=forms.RadioSelect,
    )


@signed_in
def site_settings_view(request: HttpRequest, code: str) -> HttpResponse:
    """The site's date format, chosen by an administrator or an investigator of the site."""
    site = get_object_or_404(m.Site, code=code, code__in=user_sites(request.user))
    roles = user_roles(request.user).get(site.code, set())
    if not roles & {m.Role.ADMINISTRATOR, m.Role.INVESTIGATOR}:
        raise PermissionDenied(_("only an administrator or an investigator of the site sets this"))
    settings = SiteSettings.objects.filter(site=site).first()
    current = settings.date_format if settings else DEFAULT_FORMAT
    if request.method == "POST":
        form = DateFormatForm(request.POST)
        if form.is_valid():
            chosen = form.cleaned_data["date_format"]
            with audited(actor_of(request), "date format of the site chosen") as audit:
                if settings is None:
                    audit.create(SiteSettings, site=site, date_format=chosen)
                elif chosen != settings.date_format:
                    audit.update(settings, date_format=chosen)
            messages.success(
                request,
                _("Dates of site %(site)s are now written %(example)s.")
                % {"site": site.code, "example": format_date(date.today(), chosen)},
            )
            return redirect("web:site_settings", code=site.code)
    else:
        form = DateFormatForm(initial={"date_format": current})
    return render(request, "web/entry_site_settings.html", {"site": site, "form": form})
