"""The WSGI application of the study server (served by waitress in ``rfatrial demo``).

Static files are served by WhiteNoise's middleware (settings), from the apps' folders.
"""

from __future__ import annotations

from typing import Any

from rfatrial.server import setup

__all__ = ["application"]


def _application() -> Any:
    setup()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


application = _application()
