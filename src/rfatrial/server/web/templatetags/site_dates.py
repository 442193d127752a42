"""Dates in the site's format in templates.

``{% load site_dates %}`` then ``{% site_date value %}``: the date in the format of the page's
patient's site (a ``patient`` in the context), else of the user's current site. The filter
``{{ value|date_as:"dmy_slash" }}`` writes a date in a format named explicitly.
"""

from __future__ import annotations

from typing import Any

from django import template

from rfatrial.server.web.dates import DEFAULT_FORMAT, format_date, format_for_request, placeholder

register = template.Library()


def context_date_format(context: template.Context) -> str:
    """The date format of the page: its patient's site, else the user's current site."""
    request = context.get("request")
    if request is None:
        return DEFAULT_FORMAT
    patient = context.get("patient")
    site = getattr(getattr(patient, "site", None), "code", None)
    return format_for_request(request, site)


def site_date(context: template.Context, value: Any) -> str:
    """The date in the site's format (empty for None)."""
    return format_date(value, context_date_format(context))


def site_date_placeholder(context: template.Context) -> str:
    """How dates are typed at the site: ``DD/MM/YYYY``."""
    return placeholder(context_date_format(context))


def date_as(value: Any, code: str) -> str:
    """The date in format ``code`` (a key of the site date formats)."""
    return format_date(value, code)


# registered by call, not as decorators: Django's decorators are untyped
register.simple_tag(site_date, takes_context=True)
register.simple_tag(site_date_placeholder, takes_context=True)
register.filter("date_as", date_as)
