"""The engine's texts in the user's language, with the site's dates.

``{% load engine %}`` then ``{% engine_what action %}``, ``{% engine_why action %}`` and
``{% engine_description deviation %}``, for a next action or deviation of the kernel or its stored
row (:mod:`rfatrial.server.web.engine_texts`).
"""

from __future__ import annotations

from typing import Any

from django import template

from rfatrial.server.web.engine_texts import engine_text
from rfatrial.server.web.templatetags.site_dates import context_date_format

register = template.Library()


def engine_what(context: template.Context, action: Any) -> str:
    """What is due, in the user's language."""
    return engine_text(action.what_key, action.params, action.what, context_date_format(context))


def engine_why(context: template.Context, action: Any) -> str:
    """Why it is due, in the user's language."""
    return engine_text(action.why_key, action.params, action.why, context_date_format(context))


def engine_description(context: template.Context, deviation: Any) -> str:
    """What the deviation is, in the user's language."""
    return engine_text(
        deviation.description_key,
        deviation.params,
        deviation.description,
        context_date_format(context),
    )


# registered by call, not as decorators: Django's decorators are untyped
register.simple_tag(engine_what, takes_context=True)
register.simple_tag(engine_why, takes_context=True)
register.simple_tag(engine_description, takes_context=True)
