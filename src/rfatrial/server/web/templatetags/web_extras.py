"""Template filters of the web application."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


def spaced(value: Any) -> str:
    """``rfa_preparation`` → ``rfa preparation`` (the kernel's codes, readable)."""
    return str(value or "").replace("_", " ")


def percent(value: Any) -> str:
    """A fraction as a signed percentage: ``-0.3`` → ``−30.0 %``; empty for None."""
    if value is None or value == "":
        return "—"
    number = float(value) * 100
    sign = "+" if number > 0 else ("−" if number < 0 else "")
    return f"{sign}{abs(number):.1f} %"


register.filter("spaced", spaced)
register.filter("percent", percent)
