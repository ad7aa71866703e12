"""Settings of the example project, read from the environment.

REDIS_URL            django-redis cache and channels-redis layer (e.g. redis://127.0.0.1:6379/0).
                     Unset: an in-process cache and channel layer, fine for one runserver
                     process only (a warning says so).
DATABASE_URL         postgres://user@host:port/name. Unset: SQLite in var/example.sqlite3.
DEBUG                "1" (default) or "0".
TICK_SECONDS         seconds between the ticks of ws/notifications/ (default 3).
CALL_SECONDS         the demo page calls GET /api/me/ this often while signed in (default 0:
                     only when you click), so that sliding shows without a click.
ACCESS_SECONDS, REFRESH_SECONDS, SESSION_SECONDS, SLIDING_SECONDS, GRACE_SECONDS, LEEWAY_SECONDS
                     shorten lifetimes to watch sliding and refresh happen (see README).
DPOP                 the demo page's profile: "optional" (default: sessions bound to the
                     browser's DPoP key), "required" or "off".
"""

import os
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from django_doubletoken.conf import DEFAULTS as _DOUBLETOKEN_DEFAULTS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("SECRET_KEY", "example-project-insecure-key-change-me-0123456789")
DEBUG = os.environ.get("DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

# docs/how-to/websockets.md shows the sections marked "--8<--".
# --8<-- [start:apps]
INSTALLED_APPS = [
    "daphne",  # runserver serves WebSockets (ws/notifications/) too
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "ninja",
    "channels",
    "django_doubletoken",
    "example_project",
]
# --8<-- [end:apps]

MIDDLEWARE = [
    "django_doubletoken.middleware.SlidingTokenMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
# --8<-- [start:asgi]
ASGI_APPLICATION = "example_project.asgi.application"
# --8<-- [end:asgi]

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
            ]
        },
    }
]


def _database(url: str | None) -> dict:
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "example.sqlite3",
            # Writers queue for the lock at BEGIN instead of failing to upgrade it midway.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    parts = urlparse(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "postgres",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": parts.port or 5432,
    }


DATABASES = {"default": _database(os.environ.get("DATABASE_URL"))}

# --8<-- [start:layers]
REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
    # The WebSocket close on logout travels through the same Redis.
    # channels-redis waits up to 5 s in each read (BZPOPMIN); redis-py 8 gives up on a read
    # after 5 s by default, so the socket timeout is set above it (system check W010).
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                  "CONFIG": {"hosts": [{"address": REDIS_URL,
                                                        "socket_timeout": 10}]}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # One runserver process only: nobody else could miss a revocation. Anything with more
    # than one worker needs REDIS_URL, and must not silence this.
    SILENCED_SYSTEM_CHECKS = ["django_doubletoken.W003"]
    if "runserver" in sys.argv:
        print("REDIS_URL is not set: using an in-process cache (one process only).")
# --8<-- [end:layers]


def _seconds(name: str, default: timedelta) -> timedelta:
    value = os.environ.get(name)
    return timedelta(seconds=float(value)) if value else default


_ACCESS_LIFETIME = _seconds("ACCESS_SECONDS", timedelta(minutes=15))
DOUBLETOKEN = {
    "ACCESS_TOKEN_LIFETIME": _ACCESS_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": _seconds("REFRESH_SECONDS", timedelta(days=1)),
    "SESSION_LIFETIME": _seconds("SESSION_SECONDS", timedelta(days=30)),
    "SLIDING_THRESHOLD": _seconds("SLIDING_SECONDS", timedelta(minutes=5)),
    # Must stay shorter than the access lifetime (check E019), also when that is shortened.
    "GRACE_PERIOD": _seconds("GRACE_SECONDS", min(timedelta(seconds=30), _ACCESS_LIFETIME / 2)),
    "LEEWAY": _seconds("LEEWAY_SECONDS", timedelta(seconds=10)),
    # Every access token carries the user's group names as "roles".
    "ACCESS_TOKEN_CLAIMS": "example_project.claims.access_claims",
}
if any(os.environ.get(f"{n}_SECONDS") for n in ("ACCESS", "REFRESH", "SESSION")):
    # Lifetimes from the environment apply to every profile, "mobile" included.
    DOUBLETOKEN["CLIENT_PROFILES"] = {"web": {}, "mobile": {}}
if os.environ.get("LOGIN_THROTTLE_RATE"):
    DOUBLETOKEN["LOGIN_THROTTLE_RATE"] = os.environ["LOGIN_THROTTLE_RATE"]
# The demo page's profile, "web", binds each session to the browser's DPoP key when its login
# carries a proof (the JS client's `dpop: true`; docs/explanation/dpop.md). DPOP=off or
# DPOP=required to see the others; the other profiles keep the app's default (off).
_PROFILES = DOUBLETOKEN.get("CLIENT_PROFILES", _DOUBLETOKEN_DEFAULTS["CLIENT_PROFILES"])
DOUBLETOKEN["CLIENT_PROFILES"] = {
    **_PROFILES, "web": {**_PROFILES["web"], "DPOP": os.environ.get("DPOP", "optional")}}
# How recent the sign-in must be for the sensitive endpoints (password, account deletion,
# signing out the other devices): example_project/account.py. Shorten it to see the step-up.
STEP_UP_MAX_AGE = _seconds("STEP_UP_SECONDS", timedelta(minutes=5))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "django_doubletoken.authentication.DoubleTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "django_doubletoken.exception_handler.exception_handler",
    # DRF's parsers, bounded: a deeply nested or oversized body is a 4xx JSON error, not a 500
    # or Django's HTML 400 page.
    "DEFAULT_PARSER_CLASSES": [
        "django_doubletoken.parsers.JSONParser",
        "django_doubletoken.parsers.FormParser",
        "django_doubletoken.parsers.MultiPartParser",
    ],
}

# Django's own validators, as startproject sets them: sign-up (api/signup/) refuses "1".
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
STATIC_ROOT = VAR_DIR / "static"
if not DEBUG:
    # runserver serves the static files (the demo page's JS client) only with DEBUG on; without
    # it, WhiteNoise does. Only then: it is sync-only middleware, and under ASGI every
    # middleware above it would run sync (SlidingTokenMiddleware's async path included).
    MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                      "whitenoise.middleware.WhiteNoiseMiddleware")
    # Files are found where runserver finds them (app static dirs): no collectstatic.
    WHITENOISE_USE_FINDERS = True
    # WhiteNoise also serves collectstatic's output, and warns at every start while it is
    # missing.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DEMO_CALL_SECONDS = float(os.environ.get("CALL_SECONDS", "0"))
DEMO_USERNAME = os.environ.get("DEMO_USERNAME", "demo")
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo-password")
