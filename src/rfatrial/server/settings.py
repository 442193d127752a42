"""Django settings of the study server.

Storage needs no set-up: by default an SQLite database in WAL mode in the data folder
(``RFATRIAL_DATA_DIR``, default ``./data`` relative to the current directory). ``DATABASE_URL``
selects PostgreSQL (``postgres://user:pass@host:5432/name``) or another SQLite file
(``sqlite:////abs/path.sqlite3``). The secret key comes from ``RFATRIAL_SECRET_KEY`` or is generated
once into ``<data dir>/secret_key`` (never committed).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url

DATA_DIR = Path(os.environ.get("RFATRIAL_DATA_DIR", "data")).resolve()

# WAL lets readers work while one writer writes; IMMEDIATE takes the write lock at the start of a
# transaction, so two writers queue (busy timeout) instead of failing half-way.
SQLITE_OPTIONS: dict[str, Any] = {
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}


def _secret_key() -> str:
    key = os.environ.get("RFATRIAL_SECRET_KEY")
    if key:
        return key
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def database_config(url: str | None, data_dir: Path) -> dict[str, Any]:
    """The ``default`` database: ``url`` when given, else SQLite in ``data_dir``."""
    if url:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(data_dir / "rfatrial.sqlite3"),
        }
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Kept open between requests, as PostgreSQL's: opening an SQLite connection (functions,
        # pragmas) costs more than the queries of a patient's page.
        config["CONN_MAX_AGE"] = 60
        config["OPTIONS"] = {**SQLITE_OPTIONS, **config.get("OPTIONS", {})}
    return config


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("RFATRIAL_DEBUG", "") == "1"
ALLOWED_HOSTS = [
    h for h in os.environ.get("RFATRIAL_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rfatrial.server.web",
    "rfatrial.server.study",
    "rfatrial.server.api",
    "rfatrial.server.planning",
    "rfatrial.server.language",
    "rfatrial.server.monitoring",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "rfatrial.server.language.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "rfatrial.server.urls"
DATABASES = {"default": database_config(os.environ.get("DATABASE_URL"), DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
# The interface ships in English and Simplified Chinese; each user chooses
# (rfatrial.server.language), else the browser's language decides.
# Catalogs: server/locale/<lang>/LC_MESSAGES/django.po.
LANGUAGE_CODE = "en"
USE_I18N = True
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [Path(__file__).resolve().parent / "locale"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# The web application (rfatrial.server.web): templates of the apps, static files served by
# WhiteNoise straight from the apps' folders (no collectstatic step), sign-in at /login/.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "static/"
WHITENOISE_USE_FINDERS = True
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
