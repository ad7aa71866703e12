"""System checks: a wrong DOUBLETOKEN setting or setup is reported at startup with the fix."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
from django.apps import apps
from django.conf import settings
from django.core.cache import BaseCache
from django.core.checks import Error, Tags, Warning, register
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .conf import DEFAULTS, PROFILE_KEYS, doubletoken_settings
from .keys import HMAC_ALGORITHMS, KeyConfigurationError, build_key_ring

MIDDLEWARE_PATH = "django_doubletoken.middleware.SlidingTokenMiddleware"
# Backends whose methods are coroutines only: the app's sync path cannot call them.
ASYNC_ONLY_BACKENDS = ("django_valkey.async_cache.",)
LIFETIMES = ("ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME", "SESSION_LIFETIME")


def _error(msg: str, hint: str, n: int) -> Error:
    return Error(msg, hint=hint, id=f"django_doubletoken.E{n:03d}")


def _positive_timedelta(value: Any) -> bool:
    return isinstance(value, timedelta) and value > timedelta(0)


@register(Tags.security, "django_doubletoken")
def check_settings(app_configs=None, **kwargs) -> list:
    doubletoken_settings.reload()
    errors: list = []
    user = getattr(settings, "DOUBLETOKEN", None) or {}
    if not isinstance(user, dict):
        return [_error("DOUBLETOKEN must be a dict.", "Set DOUBLETOKEN = {...} or remove it.", 1)]
    for key in sorted(set(user) - set(DEFAULTS)):
        errors.append(
            _error(f"DOUBLETOKEN has an unknown key {key!r}.", "Check its spelling.", 2)
        )
    for key in LIFETIMES + ("SLIDING_THRESHOLD", "LAST_USED_UPDATE_INTERVAL"):
        if not _positive_timedelta(getattr(doubletoken_settings, key)):
            errors.append(
                _error(f"DOUBLETOKEN[{key!r}] must be a positive datetime.timedelta.",
                       "For example timedelta(minutes=15).", 3)
            )
    for key in ("GRACE_PERIOD", "LEEWAY"):
        value = getattr(doubletoken_settings, key)
        if not isinstance(value, timedelta) or value < timedelta(0):
            errors.append(
                _error(f"DOUBLETOKEN[{key!r}] must be a datetime.timedelta of zero or more.",
                       "For example timedelta(seconds=30).", 4)
            )
    errors += _check_profiles()
    errors += _check_keys()
    errors += _check_misc()
    errors += _check_client_side_cache()
    errors += _check_dotted_paths()
    return errors


def _check_client_side_cache() -> list:
    errors = []
    if not isinstance(doubletoken_settings.CLIENT_SIDE_CACHE, bool):
        errors.append(_error("DOUBLETOKEN['CLIENT_SIDE_CACHE'] must be True or False.",
                             "False (default) makes one cache round trip per request.", 30))
    size = doubletoken_settings.CLIENT_SIDE_CACHE_MAX_ENTRIES
    if not isinstance(size, int) or isinstance(size, bool) or size < 3:
        errors.append(_error("DOUBLETOKEN['CLIENT_SIDE_CACHE_MAX_ENTRIES'] must be an integer "
                             "of at least 3 (one session's keys).", "The default is 10000.", 30))
    if not _positive_timedelta(doubletoken_settings.CLIENT_SIDE_CACHE_MAX_AGE):
        errors.append(_error("DOUBLETOKEN['CLIENT_SIDE_CACHE_MAX_AGE'] must be a positive "
                             "datetime.timedelta.", "The default is timedelta(seconds=5).", 30))
    return errors


def _check_profiles() -> list:
    profiles = doubletoken_settings.CLIENT_PROFILES
    if not isinstance(profiles, dict) or not profiles:
        return [_error("DOUBLETOKEN['CLIENT_PROFILES'] must be a non-empty dict.",
                       "For example {'web': {}, 'mobile': {'REFRESH_TOKEN_LIFETIME': ...}}.", 5)]
    errors = []
    if doubletoken_settings.DEFAULT_CLIENT not in profiles:
        errors.append(_error(
            f"DOUBLETOKEN['DEFAULT_CLIENT'] {doubletoken_settings.DEFAULT_CLIENT!r} is not a "
            "profile.",
            f"Use one of {sorted(profiles)}.", 6))
    for name, overrides in profiles.items():
        if not isinstance(overrides, dict):
            errors.append(_error(f"Client profile {name!r} must be a dict.", "Use {} for none.", 5))
            continue
        unknown = set(overrides) - set(PROFILE_KEYS)
        if unknown:
            errors.append(_error(f"Client profile {name!r} has unknown keys {sorted(unknown)}.",
                                 f"Allowed: {', '.join(PROFILE_KEYS)}.", 5))
            continue
        if any(not _positive_timedelta(overrides[k]) for k in LIFETIMES if k in overrides):
            errors.append(_error(f"Client profile {name!r} has a lifetime that is not a "
                                 "positive timedelta.", "Use datetime.timedelta values.", 3))
            continue
        limit = overrides.get("MAX_SESSIONS")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            errors.append(_error(f"Client profile {name!r}: MAX_SESSIONS must be None or an "
                                 "integer of at least 1.", "None means no limit.", 7))
        errors += _check_profile_lifetimes(name)
    return errors


def _check_profile_lifetimes(name: str) -> list:
    if not all(_positive_timedelta(getattr(doubletoken_settings, k)) for k in LIFETIMES):
        return []  # already reported
    profile = doubletoken_settings.profile(name)
    threshold = doubletoken_settings.SLIDING_THRESHOLD
    errors = []
    if isinstance(threshold, timedelta) and not threshold < profile.access_lifetime:
        errors.append(_error(
            f"Client profile {name!r}: SLIDING_THRESHOLD ({threshold}) must be shorter than "
            f"the access token lifetime ({profile.access_lifetime}).",
            "Typically a third of the access lifetime.", 8))
    if not profile.access_lifetime < profile.refresh_lifetime:
        errors.append(_error(
            f"Client profile {name!r}: the access token lifetime ({profile.access_lifetime}) "
            f"must be shorter than the refresh token lifetime ({profile.refresh_lifetime}).",
            "Lengthen REFRESH_TOKEN_LIFETIME or shorten ACCESS_TOKEN_LIFETIME.", 8))
    grace = doubletoken_settings.GRACE_PERIOD
    if isinstance(grace, timedelta) and not grace < profile.access_lifetime:
        # A refresh replayed inside the grace window gets the pair the rotation issued,
        # re-derived from the row; its access token would already have expired.
        errors.append(_error(
            f"Client profile {name!r}: GRACE_PERIOD ({grace}) must be shorter than the access "
            f"token lifetime ({profile.access_lifetime}).",
            "The grace window covers concurrent and retried requests: seconds, not the "
            "token's lifetime. The default is 30 seconds.", 19))
    if profile.refresh_lifetime > profile.session_lifetime:
        errors.append(_error(
            f"Client profile {name!r}: REFRESH_TOKEN_LIFETIME ({profile.refresh_lifetime}) "
            f"exceeds SESSION_LIFETIME ({profile.session_lifetime}).",
            "A refresh token can never outlive its session; lower it.", 8))
    return errors


def _check_keys() -> list:
    algorithm = doubletoken_settings.ALGORITHM
    if not isinstance(algorithm, str) or algorithm.lower() == "none":
        return [_error("DOUBLETOKEN['ALGORITHM'] must name a signing algorithm.",
                       "HS256 (default), RS256, ES256 or EdDSA.", 10)]
    try:
        jwt.get_algorithm_by_name(algorithm)
    except NotImplementedError:
        return [_error(f"DOUBLETOKEN['ALGORITHM'] {algorithm!r} is not available in PyJWT.",
                       "Install 'cryptography' for RS/ES/EdDSA, or use HS256.", 10)]
    if not isinstance(doubletoken_settings.PREVIOUS_VERIFYING_KEYS, (list, tuple)):
        return [_error("DOUBLETOKEN['PREVIOUS_VERIFYING_KEYS'] must be a list.",
                       "List the keys retired by a rotation, or leave it empty.", 12)]
    key = doubletoken_settings.SIGNING_KEY
    if algorithm in HMAC_ALGORITHMS:
        secrets = [key, *doubletoken_settings.PREVIOUS_VERIFYING_KEYS] if key is not None else []
        if any(not isinstance(s, (str, bytes)) or len(s) < 32 for s in secrets):
            return [_error("HMAC keys (SIGNING_KEY, PREVIOUS_VERIFYING_KEYS) must be secrets "
                           "of at least 32 characters.",
                           "Generate one with secrets.token_urlsafe(48).", 11)]
        return []
    try:
        build_key_ring()
    except KeyConfigurationError as exc:
        return [_error(str(exc), "Give SIGNING_KEY as a PEM private key for the algorithm "
                       "(VERIFYING_KEY, optional, as its PEM public key), or use HS256.", 12)]
    return []


def _check_misc() -> list:
    errors = []
    header = doubletoken_settings.NEW_TOKEN_HEADER
    if not isinstance(header, str) or not header or not all(
        c.isalnum() or c in "-_" for c in header
    ):
        errors.append(_error("DOUBLETOKEN['NEW_TOKEN_HEADER'] must be a header name of "
                             "letters, digits, '-' and '_'.",
                             "The default is 'NEW_HTTP_AUTHORIZATION'.", 13))
    for key in ("CACHE_ALIAS", "ASYNC_CACHE_ALIAS"):
        alias = getattr(doubletoken_settings, key)
        if alias is not None and alias not in settings.CACHES:
            errors.append(_error(f"DOUBLETOKEN[{key!r}] {alias!r} is not in CACHES.",
                                 "Add it to CACHES or name an existing alias.", 14))
    length = doubletoken_settings.MAX_TOKEN_LENGTH
    if not isinstance(length, int) or length < 512:
        errors.append(_error("DOUBLETOKEN['MAX_TOKEN_LENGTH'] must be an integer of at least "
                             "512.", "The default is 4096.", 15))
    rate = doubletoken_settings.LOGIN_THROTTLE_RATE
    if rate is not None and not _valid_rate(rate):
        errors.append(_error(f"DOUBLETOKEN['LOGIN_THROTTLE_RATE'] {rate!r} is not a rate.",
                             "Use 'N/second', 'N/minute', 'N/hour', 'N/day' or None.", 16))
    for key in ("ISSUER", "CLIENT_IP_HEADER", "CACHE_KEY_PREFIX"):
        value = getattr(doubletoken_settings, key)
        if value is not None and not isinstance(value, str):
            errors.append(_error(f"DOUBLETOKEN[{key!r}] must be a string or None.",
                                 "", 17))
    acks = doubletoken_settings.REVOCATION_REPLICA_ACKS
    if not isinstance(acks, int) or acks < 0:
        errors.append(_error("DOUBLETOKEN['REVOCATION_REPLICA_ACKS'] must be an integer of 0 "
                             "or more.", "0 (default) does not wait for replicas.", 18))
    elif acks and not _can_wait_for_replicas(
        settings.CACHES.get(doubletoken_settings.CACHE_ALIAS, {})
    ):
        errors.append(_error("DOUBLETOKEN['REVOCATION_REPLICA_ACKS'] needs a django-redis or "
                             "django-valkey cache (not a sharded one): it sends Redis WAIT to "
                             "the primary that took the revocation.", "Set it to 0.", 18))
    audience = doubletoken_settings.AUDIENCE
    if audience is not None and not isinstance(audience, str):
        errors.append(_error("DOUBLETOKEN['AUDIENCE'] must be a string or None.", "", 17))
    return errors


def _can_wait_for_replicas(config: dict) -> bool:
    backend = config.get("BACKEND", "")
    return (backend.startswith(("django_redis.", "django_valkey."))
            and not backend.startswith(ASYNC_ONLY_BACKENDS)
            and "ShardClient" not in config.get("OPTIONS", {}).get("CLIENT_CLASS", ""))


def _check_dotted_paths() -> list:
    return _check_login_serializer() + _check_claims_function()


def _check_claims_function() -> list:
    path = doubletoken_settings.given("ACCESS_TOKEN_CLAIMS")
    if path is None:
        return []
    hint = "Give the dotted path of a function (user, session) -> dict, or None."
    try:
        function = import_string(path) if isinstance(path, str) else None
    except ImportError as exc:
        return [_error(f"DOUBLETOKEN['ACCESS_TOKEN_CLAIMS'] {path!r} cannot be imported: "
                       f"{exc}", hint, 23)]
    if not callable(function):
        return [_error(f"DOUBLETOKEN['ACCESS_TOKEN_CLAIMS'] {path!r} is not callable.", hint, 23)]
    return []


def _check_login_serializer() -> list:
    from rest_framework.serializers import BaseSerializer

    path = doubletoken_settings.given("LOGIN_SERIALIZER")
    try:
        serializer = import_string(path) if isinstance(path, str) else None
    except ImportError as exc:
        return [_error(f"DOUBLETOKEN['LOGIN_SERIALIZER'] {path!r} cannot be imported: {exc}",
                       "Give the dotted path of a serializer class.", 22)]
    if not (isinstance(serializer, type) and issubclass(serializer, BaseSerializer)):
        return [_error(f"DOUBLETOKEN['LOGIN_SERIALIZER'] {path!r} is not a serializer class.",
                       "Give the dotted path of a DRF Serializer subclass whose "
                       "validated_data holds 'user'.", 22)]
    return []


def _user_admin_shows_sessions() -> bool:
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    from .admin import DeviceSessionInline, UserSessionsAdminMixin

    user_admin = admin.site._registry.get(get_user_model())
    return user_admin is None or isinstance(user_admin, UserSessionsAdminMixin) or (
        DeviceSessionInline in user_admin.inlines
    )


def _valid_rate(rate: Any) -> bool:
    if not isinstance(rate, str) or "/" not in rate:
        return False
    count, period = rate.split("/", 1)
    return count.isdigit() and period[:1] in ("s", "m", "h", "d")


@register(Tags.compatibility, "django_doubletoken")
def check_setup(app_configs=None, **kwargs) -> list:
    found = []
    if MIDDLEWARE_PATH not in settings.MIDDLEWARE:
        found.append(Warning(
            f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: access tokens will not slide.",
            hint="Add it to MIDDLEWARE (above corsheaders.middleware.CorsMiddleware if used).",
            id="django_doubletoken.W001"))
    elif "corsheaders.middleware.CorsMiddleware" in settings.MIDDLEWARE:
        ours = settings.MIDDLEWARE.index(MIDDLEWARE_PATH)
        if ours > settings.MIDDLEWARE.index("corsheaders.middleware.CorsMiddleware"):
            found.append(Warning(
                f"{MIDDLEWARE_PATH} is below CorsMiddleware, which may overwrite "
                "Access-Control-Expose-Headers so browsers cannot read the new token header.",
                hint="Move it above CorsMiddleware, or add the header name to "
                     "CORS_EXPOSE_HEADERS.",
                id="django_doubletoken.W002"))
    if apps.is_installed("django.contrib.admin") and not _user_admin_shows_sessions():
        found.append(Warning(
            "The user admin does not show device sessions.",
            hint="List 'django_doubletoken' below 'django.contrib.admin' in INSTALLED_APPS, or "
                 "add django_doubletoken.admin.UserSessionsAdminMixin to your UserAdmin.",
            id="django_doubletoken.W004"))
    found += _check_cache_is_shared()
    return found


# Backends whose state one process (or one host) keeps to itself. With any of them a logout,
# revocation or slide handled by one worker is unknown to the others, so it is a warning in
# every mode: two runserver processes, or gunicorn with two workers, already show the hole.
UNSHARED_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache":
        "keeps its data inside each process",
    "django.core.cache.backends.dummy.DummyCache":
        "stores nothing, so no revocation or slide is remembered at all",
    "django.core.cache.backends.filebased.FileBasedCache":
        "is not shared between hosts and has no atomic add, so concurrent requests race",
}


def _check_cache_is_shared() -> list:
    alias = doubletoken_settings.CACHE_ALIAS
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if backend not in UNSHARED_CACHES:
        return []
    return [Warning(
        f"The cache {alias!r} ({backend}) {UNSHARED_CACHES[backend]}: a logout or revocation "
        "in one worker is not seen by another, which keeps accepting the token.",
        hint="Point DOUBLETOKEN['CACHE_ALIAS'] at a Redis cache (django-redis or Django's "
             "RedisCache). For a single-process development server only, silence this with "
             "SILENCED_SYSTEM_CHECKS = ['django_doubletoken.W003'].",
        id="django_doubletoken.W003")]


@register(Tags.security, "django_doubletoken", deploy=True)
def check_deploy(app_configs=None, **kwargs) -> list:
    """`manage.py check --deploy`: a signing key derived from a weak SECRET_KEY."""
    if (
        doubletoken_settings.SIGNING_KEY is not None
        or doubletoken_settings.ALGORITHM not in HMAC_ALGORITHMS
    ):
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
    return [Warning(
        "DOUBLETOKEN['SIGNING_KEY'] is not set, so access and refresh tokens are signed with a "
        "key derived from SECRET_KEY, which is short, has few distinct characters or starts "
        f"with {SECRET_KEY_INSECURE_PREFIX!r}: whoever knows or guesses it can forge tokens "
        "for any user.",
        hint="Set DOUBLETOKEN['SIGNING_KEY'] to a dedicated secret read from the environment "
             "(generate one with: python -c \"import secrets; print(secrets.token_urlsafe(48))\"), "
             "and give SECRET_KEY a strong value too.",
        id="django_doubletoken.W005")]


@register(Tags.caches, "django_doubletoken")
def check_cache_backend(app_configs=None, **kwargs) -> list:
    """What the app needs from its cache besides being shared (W003, which also covers the
    backends without an atomic ``add``): synchronous methods, and a ``get_many`` in one round
    trip (a request's one cache read)."""
    alias = doubletoken_settings.CACHE_ALIAS
    config = settings.CACHES.get(alias)
    if not config:
        return []  # E014
    backend = config.get("BACKEND", "")
    try:
        backend_class = import_string(backend)
    except ImportError:
        return []  # Django's own cache check reports it
    found = []
    if backend.startswith(ASYNC_ONLY_BACKENDS):
        found.append(Error(
            f"The cache {alias!r} ({backend}) has only async methods; the app's sync path "
            "(DRF authentication, login, refresh, revocation) calls get_many, add and set.",
            hint="Use the same server through a sync backend, e.g. "
                 "django_valkey.cache.ValkeyCache (it has native async methods as well).",
            id="django_doubletoken.E020"))
        return found
    client_class = str(config.get("OPTIONS", {}).get("CLIENT_CLASS", ""))
    one_get_per_key = backend not in UNSHARED_CACHES and (
        getattr(backend_class, "get_many", None) is BaseCache.get_many
        or client_class.endswith("ShardClient"))
    if one_get_per_key:
        found.append(Warning(
            f"The cache {alias!r} ({backend}{', ' + client_class if client_class else ''}) "
            "fetches several keys one at a time: each authenticated request costs 3 cache "
            "round trips instead of one.",
            hint="For more than one Redis, use a Redis Cluster backend "
                 "(django_valkey.cluster_cache.cache.ClusterValkeyCache): a session's keys share "
                 "a hash slot, so its get_many is one MGET.",
            id="django_doubletoken.W006"))
    return found + _check_async_cache(config)


# What decides which key, on which server, a cache call reaches.
SAME_DATA_SETTINGS = ("LOCATION", "KEY_PREFIX", "VERSION", "KEY_FUNCTION")


def _check_async_cache(config: dict) -> list:
    alias = doubletoken_settings.ASYNC_CACHE_ALIAS
    async_config = settings.CACHES.get(alias) if alias else None
    if not async_config:
        return []
    differing = [name for name in SAME_DATA_SETTINGS
                 if _location(async_config.get(name)) != _location(config.get(name))]
    if not differing:
        return []
    return [Error(
        f"DOUBLETOKEN['ASYNC_CACHE_ALIAS'] {alias!r} does not reach the same keys as "
        f"CACHE_ALIAS {doubletoken_settings.CACHE_ALIAS!r} ({', '.join(differing)} differ): "
        "the async path would not see revocations made by the sync path.",
        hint="Give both the same LOCATION, KEY_PREFIX, VERSION and KEY_FUNCTION.",
        id="django_doubletoken.E021")]


def _location(value: Any) -> Any:
    """A LOCATION as a list of servers: redis:// and valkey:// alike, connection arguments
    (``?client_name=...``) left out."""
    if isinstance(value, str):
        value = value.split(",")
    if isinstance(value, (list, tuple)):
        return [str(v).replace("valkey://", "redis://", 1).split("?")[0] for v in value]
    return value
