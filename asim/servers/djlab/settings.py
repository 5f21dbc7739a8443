"""Settings of the lab's project: ``startproject``'s defaults with DEBUG off and loopback hosts.

Three values come from the environment:

- ``ASIM_SLEEP_S``: the ``index`` view's ``time.sleep`` in seconds (default 0.1);
- ``ASIM_DJANGO_VIEW``: ``sync`` (the seed's view, the default) or ``async`` (an ``async def``
  view that awaits ``asyncio.sleep``; under ASGI it runs on the event loop);
- ``ASIM_TRACE_FILE``: when set, requests are traced (see `asim.servers.trace`).

The project never touches its database on the lab's URL; the admin is mounted as in the seed but
its tables do not exist (no migrations are run), so the database lives in memory and nothing is
written inside the installed package.
"""

import math
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def _sleep_from_env() -> float:
    text = os.environ.get("ASIM_SLEEP_S", "0.1")
    try:
        value = float(text)
    except ValueError:
        raise ImproperlyConfigured(f"ASIM_SLEEP_S must be a number, got {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise ImproperlyConfigured(f"ASIM_SLEEP_S must be finite and >= 0, got {text!r}")
    return value


def _view_from_env() -> str:
    text = os.environ.get("ASIM_DJANGO_VIEW", "sync")
    if text not in ("sync", "async"):
        raise ImproperlyConfigured(f"ASIM_DJANGO_VIEW must be 'sync' or 'async', got {text!r}")
    return text


ASIM_SLEEP_S = _sleep_from_env()
ASIM_VIEW = _view_from_env()
ASIM_TRACE = bool(os.environ.get("ASIM_TRACE_FILE"))

BASE_DIR = Path(__file__).resolve().parent

# A lab server on loopback with no sessions worth protecting; a fixed key keeps runs identical.
SECRET_KEY = "asim-lab-not-secret-5q3l0m2v8k1x7c4n9b6z"

DEBUG = False

ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "asim.servers.djlab.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "asim.servers.djlab.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
