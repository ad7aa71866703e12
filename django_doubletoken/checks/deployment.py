"""Checks of how the app is deployed: the middleware, the admin, the signing key's origin."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import Tags, register
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

from ..conf import doubletoken_settings
from ..keys import HMAC_ALGORITHMS
from . import problem
from .cache import unshared_cache_problems

MIDDLEWARE_PATH = "django_doubletoken.middleware.SlidingTokenMiddleware"
CORS_MIDDLEWARE = "corsheaders.middleware.CorsMiddleware"


@register(Tags.compatibility, "django_doubletoken")
def check_setup(app_configs=None, **kwargs) -> list:
    found = []
    if MIDDLEWARE_PATH not in settings.MIDDLEWARE:
        found.append(problem("W001", middleware=MIDDLEWARE_PATH))
    elif CORS_MIDDLEWARE in settings.MIDDLEWARE and (
        settings.MIDDLEWARE.index(MIDDLEWARE_PATH) > settings.MIDDLEWARE.index(CORS_MIDDLEWARE)
    ):
        found.append(problem("W002", middleware=MIDDLEWARE_PATH))
    if apps.is_installed("django.contrib.admin") and not _user_admin_shows_sessions():
        found.append(problem("W004"))
    return found + unshared_cache_problems()


def _user_admin_shows_sessions() -> bool:
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    from ..admin import DeviceSessionInline, UserSessionsAdminMixin

    user_admin = admin.site._registry.get(get_user_model())
    return user_admin is None or isinstance(user_admin, UserSessionsAdminMixin) or (
        DeviceSessionInline in user_admin.inlines
    )


@register(Tags.security, "django_doubletoken", deploy=True)
def check_deploy(app_configs=None, **kwargs) -> list:
    """`manage.py check --deploy`: a signing key derived from a weak SECRET_KEY."""
    if (doubletoken_settings.SIGNING_KEY is not None
            or doubletoken_settings.ALGORITHM not in HMAC_ALGORITHMS):
        return []
    try:
        secret_key = settings.SECRET_KEY
    except ImproperlyConfigured:
        return []  # Django's own checks report a missing SECRET_KEY
    if (
        isinstance(secret_key, str)
        and len(secret_key) >= SECRET_KEY_MIN_LENGTH
        and len(set(secret_key)) >= SECRET_KEY_MIN_UNIQUE_CHARACTERS
        and not secret_key.startswith(SECRET_KEY_INSECURE_PREFIX)
    ):
        return []
    return [problem("W005", insecure_prefix=SECRET_KEY_INSECURE_PREFIX)]
