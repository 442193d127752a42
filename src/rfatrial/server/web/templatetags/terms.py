"""``{{ code|term }}``: a kernel code by its name in the user's language."""

from __future__ import annotations

from django import template

from rfatrial.server.web.terms import term, threshold

register = template.Library()
# registered by call, not as a decorator: Django's decorators are untyped
register.filter("term", term)
register.filter("threshold", threshold)
