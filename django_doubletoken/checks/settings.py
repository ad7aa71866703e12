"""Checks of the DOUBLETOKEN settings and the client profiles.

``check_settings`` is the one registered check of every setting: it runs the key and cache
settings' checks (``keys``, ``cache``) as well, as one ``Tags.security`` check.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.checks import Tags, register
from django.utils.module_loading import import_string

from ..conf import DEFAULTS, PROFILE_KEYS, doubletoken_settings
from . import problem
from .cache import cache_setting_problems
from .dpop import dpop_problems
from .keys import key_problems

LIFETIMES = ("ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME", "SESSION_LIFETIME")


def positive_timedelta(value: Any) -> bool:
    return isinstance(value, timedelta) and value > timedelta(0)


@register(Tags.security, "django_doubletoken")
def check_settings(app_configs=None, **kwargs) -> list:
    doubletoken_settings.reload()
    user = getattr(settings, "DOUBLETOKEN", None) or {}
    if not isinstance(user, dict):
        return [problem("E001")]
    errors = [problem("E002", key=key) for key in sorted(set(user) - set(DEFAULTS))]
    errors += _durations()
    errors += _profiles()
    errors += key_problems()
    errors += _request_limits()
    errors += _strings()
    errors += cache_setting_problems()
    errors += _login_serializer() + _claims_function() + _reauthentication()
    errors += dpop_problems()
    return errors


def _durations() -> list:
    errors = [problem("E003", setting=f"DOUBLETOKEN[{key!r}]")
              for key in (*LIFETIMES, "SLIDING_THRESHOLD", "LAST_USED_UPDATE_INTERVAL")
              if not positive_timedelta(getattr(doubletoken_settings, key))]
    for key in ("GRACE_PERIOD", "LEEWAY"):
        value = getattr(doubletoken_settings, key)
        if not isinstance(value, timedelta) or value < timedelta(0):
            errors.append(problem("E004", key=key))
    return errors


def _profiles() -> list:
    profiles = doubletoken_settings.CLIENT_PROFILES
    if not isinstance(profiles, dict) or not profiles:
        return [problem("E024")]
    errors = []
    if doubletoken_settings.DEFAULT_CLIENT not in profiles:
        errors.append(problem("E006", client=doubletoken_settings.DEFAULT_CLIENT,
                              profiles=sorted(profiles)))
    for name, overrides in profiles.items():
        errors += _profile(name, overrides)
    return errors


def _profile(name: str, overrides: Any) -> list:
    if not isinstance(overrides, dict):
        return [problem("E025", name=name)]
    unknown = set(overrides) - set(PROFILE_KEYS)
    if unknown:
        return [problem("E005", name=name, unknown=sorted(unknown),
                        allowed=", ".join(PROFILE_KEYS))]
    not_positive = [key for key in LIFETIMES
                    if key in overrides and not positive_timedelta(overrides[key])]
    if not_positive:
        return [problem("E003", setting=f"DOUBLETOKEN['CLIENT_PROFILES'][{name!r}][{key!r}]")
                for key in not_positive]
    errors = []
    limit = overrides.get("MAX_SESSIONS")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        errors.append(problem("E007", name=name))
    return errors + _profile_lifetimes(name)


def _profile_lifetimes(name: str) -> list:
    if not all(positive_timedelta(getattr(doubletoken_settings, k)) for k in LIFETIMES):
        return []  # already reported
    profile = doubletoken_settings.profile(name)
    access, refresh = profile.access_lifetime, profile.refresh_lifetime
    threshold, grace = doubletoken_settings.SLIDING_THRESHOLD, doubletoken_settings.GRACE_PERIOD
    errors = []
    if isinstance(threshold, timedelta) and not threshold < access:
        errors.append(problem("E008", name=name, threshold=threshold, access=access))
    if not access < refresh:
        errors.append(problem("E026", name=name, access=access, refresh=refresh))
    if isinstance(grace, timedelta) and not grace < access:
        # A refresh replayed inside the grace window gets the pair the rotation issued,
        # re-derived from the row; its access token would already have expired.
        errors.append(problem("E019", name=name, grace=grace, access=access))
    if refresh > profile.session_lifetime:
        errors.append(problem("E027", name=name, refresh=refresh,
                              session=profile.session_lifetime))
    return errors


def _request_limits() -> list:
    errors = []
    header = doubletoken_settings.NEW_TOKEN_HEADER
    if not isinstance(header, str) or not header or not all(
        c.isalnum() or c in "-_" for c in header
    ):
        errors.append(problem("E013"))
    length = doubletoken_settings.MAX_TOKEN_LENGTH
    if not isinstance(length, int) or length < 512:
        errors.append(problem("E015"))
    rate = doubletoken_settings.LOGIN_THROTTLE_RATE
    if rate is not None and not _valid_rate(rate):
        errors.append(problem("E016", rate=rate))
    return errors


def _valid_rate(rate: Any) -> bool:
    if not isinstance(rate, str) or "/" not in rate:
        return False
    count, period = rate.split("/", 1)
    return count.isdigit() and period[:1] in ("s", "m", "h", "d")


def _strings() -> list:
    return [problem("E017", key=key)
            for key in ("ISSUER", "CLIENT_IP_HEADER", "CACHE_KEY_PREFIX", "AUDIENCE")
            if getattr(doubletoken_settings, key) is not None
            and not isinstance(getattr(doubletoken_settings, key), str)]


def _imported(path: Any) -> tuple[Any, str | None]:
    """What a dotted-path setting names, or why nothing: (object, None) or (None, reason)."""
    if not isinstance(path, str):
        return None, "not a dotted path"
    try:
        return import_string(path), None
    except ImportError as exc:
        return None, f"it cannot be imported ({exc})"


def _claims_function() -> list:
    path = doubletoken_settings.given("ACCESS_TOKEN_CLAIMS")
    if path is None:
        return []
    function, reason = _imported(path)
    if reason is None and not callable(function):
        reason = "it is not callable"
    return [problem("E023", path=path, reason=reason)] if reason else []


def _login_serializer() -> list:
    from rest_framework.serializers import BaseSerializer

    path = doubletoken_settings.given("LOGIN_SERIALIZER")
    serializer, reason = _imported(path)
    if reason is None and not (isinstance(serializer, type)
                               and issubclass(serializer, BaseSerializer)):
        reason = "it is not a Serializer subclass"
    return [problem("E022", path=path, reason=reason)] if reason else []


def _reauthentication() -> list:
    from django.core.exceptions import ImproperlyConfigured

    from ..reauthentication import methods
    from ..stepup import is_acr_value

    errors = []
    if not is_acr_value(doubletoken_settings.PASSWORD_ACR):
        errors.append(problem("E061"))
    try:
        methods()
    except ImproperlyConfigured as error:
        errors.append(problem("E060", error=error))
    return errors
