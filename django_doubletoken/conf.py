"""Settings: one ``DOUBLETOKEN`` dict in the project's settings, read through
``doubletoken_settings``.

Every key has a default here. A wrong value is reported by the system checks in
``django_doubletoken.checks`` at startup, not deep inside a request.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    # Lifetimes used by every client profile that does not override them.
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    # Hard end of a device session, however often it is refreshed.
    "SESSION_LIFETIME": timedelta(days=30),
    # Client profiles chosen at login ("client" in the login body). Each may override
    # ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME, SESSION_LIFETIME and MAX_SESSIONS.
    "CLIENT_PROFILES": {
        "web": {},
        "mobile": {
            "ACCESS_TOKEN_LIFETIME": timedelta(minutes=30),
            "REFRESH_TOKEN_LIFETIME": timedelta(days=60),
            "SESSION_LIFETIME": timedelta(days=365),
        },
    },
    "DEFAULT_CLIENT": "web",
    # The sliding middleware re-issues an access token whose remaining lifetime is at or
    # below this.
    "SLIDING_THRESHOLD": timedelta(minutes=5),
    # How long a replaced token (slid access token, rotated refresh token) still works, so
    # that concurrent requests and tabs carrying it are not logged out.
    "GRACE_PERIOD": timedelta(seconds=30),
    "NEW_TOKEN_HEADER": "NEW_HTTP_AUTHORIZATION",
    "CACHE_ALIAS": "default",
    # The cache the middleware's async path (ASGI) reads and writes, e.g. django-valkey's
    # AsyncValkeyCache on the same server as CACHE_ALIAS. None: CACHE_ALIAS.
    "ASYNC_CACHE_ALIAS": None,
    "CACHE_KEY_PREFIX": "doubletoken",
    # HMAC secret, or private key (PEM) for RS*/PS*/ES*/EdDSA. None: a secret derived from
    # SECRET_KEY (HMAC only). Set a dedicated one in production.
    "SIGNING_KEY": None,
    # Public key (PEM) of SIGNING_KEY; None derives it from the private key.
    "VERIFYING_KEY": None,
    # Keys (older secrets, or older public keys in PEM) whose tokens are still accepted after
    # a rotation; tokens say which key signed them in their "kid" header.
    "PREVIOUS_VERIFYING_KEYS": [],
    "ALGORITHM": "HS256",
    "ISSUER": None,
    "AUDIENCE": None,
    # Clock skew tolerated on exp / nbf / iat.
    "LEEWAY": timedelta(seconds=10),
    # The session's last_used_at is written at most once per interval.
    "LAST_USED_UPDATE_INTERVAL": timedelta(minutes=5),
    # Changing a user's password (or making it unusable) logs them out of every device.
    "REVOKE_ON_PASSWORD_CHANGE": True,
    # Dotted path of a callable (user, session) -> dict of the project's own claims for the
    # access token (e.g. {"roles": [...]}), computed at login and at each refresh and carried
    # unchanged by slides; read in views as request.auth.claims["roles"]. None: no claims.
    "ACCESS_TOKEN_CLAIMS": None,
    # The serializer of the login endpoint (dotted path). It validates the request body and
    # puts the authenticated "user" (and "device", "client" if it takes them) into
    # validated_data; the default takes the user model's USERNAME_FIELD and "password" and
    # checks them with django.contrib.auth.authenticate().
    "LOGIN_SERIALIZER": "django_doubletoken.serializers.LoginSerializer",
    # DRF throttle rate for the login endpoint, per client IP ("10/min"); None disables it.
    "LOGIN_THROTTLE_RATE": "10/min",
    # False: access tokens are checked by signature and expiry only (no cache round trip),
    # so revocation takes effect only when they expire. A benchmark floor, not advised.
    "REVOCATION_CHECK": True,
    # Keep each session's request state in process memory until Redis reports a change
    # (server-assisted client-side caching, CLIENT TRACKING, Redis >= 6), so a steady-state
    # request makes no cache round trip. Needs django-redis' DefaultClient on one Redis server;
    # other backends keep one round trip per request. Trade-off: see docs/client-side-cache.md.
    "CLIENT_SIDE_CACHE": False,
    # At most this many keys per process (three per active session), least recently used
    # evicted first; about 0.3 KB each.
    "CLIENT_SIDE_CACHE_MAX_ENTRIES": 10_000,
    # An entry is read from Redis again after this long even without an invalidation: the
    # bound on staleness should the invalidation link fail silently.
    "CLIENT_SIDE_CACHE_MAX_AGE": timedelta(seconds=5),
    # Longer Authorization headers or token fields are refused before any decoding.
    "MAX_TOKEN_LENGTH": 4096,
    # Cookie transport (opt-in): the refresh token travels in an HttpOnly cookie, never seen
    # by scripts, for the profiles in REFRESH_COOKIE_CLIENTS; others keep it in the body.
    "REFRESH_COOKIE_NAME": None,
    "REFRESH_COOKIE_CLIENTS": ("web",),
    # None: the refresh endpoint's own URL, so the cookie is sent nowhere else.
    "REFRESH_COOKIE_PATH": None,
    "REFRESH_COOKIE_DOMAIN": None,
    "REFRESH_COOKIE_SECURE": True,
    "REFRESH_COOKIE_SAMESITE": "Strict",
    # With Redis replicas (Sentinel): how many must acknowledge a revocation (Redis WAIT)
    # before logout answers, so that a failover cannot lose it. 0: do not wait.
    "REVOCATION_REPLICA_ACKS": 0,
    "REVOCATION_REPLICA_TIMEOUT": timedelta(seconds=1),
    # WSGI META key holding the client IP behind a trusted proxy, e.g.
    # "HTTP_X_FORWARDED_FOR" (its last address, added by that proxy, is used). None: REMOTE_ADDR.
    "CLIENT_IP_HEADER": None,
}

# Settings given as a dotted path (or as the object itself), read as the object they name.
IMPORT_STRINGS = ("ACCESS_TOKEN_CLAIMS", "LOGIN_SERIALIZER")

PROFILE_KEYS = (
    "ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME", "SESSION_LIFETIME", "MAX_SESSIONS"
)


@dataclass(frozen=True)
class ClientProfile:
    name: str
    access_lifetime: timedelta
    refresh_lifetime: timedelta
    session_lifetime: timedelta
    max_sessions: int | None


class DoubleTokenSettings:
    """Attribute access to ``settings.DOUBLETOKEN`` with defaults, cached until settings change."""

    @property
    def user_settings(self) -> dict[str, Any]:
        return getattr(settings, "DOUBLETOKEN", None) or {}

    def __getattr__(self, name: str) -> Any:
        # Only called for a setting not read yet: the value then becomes an instance
        # attribute, so every later read (a dozen per request) is a plain attribute lookup.
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"Invalid DOUBLETOKEN setting: {name!r}")
        value = self.given(name)
        if name in IMPORT_STRINGS and isinstance(value, str):
            try:
                value = import_string(value)
            except ImportError as exc:
                raise ImproperlyConfigured(
                    f"DOUBLETOKEN[{name!r}] {value!r} cannot be imported: {exc}") from exc
        self.__dict__[name] = value
        return value

    def given(self, name: str) -> Any:
        """The setting as the project wrote it (a dotted path stays a string), or its default."""
        return self.user_settings.get(name, DEFAULTS[name])

    def reload(self) -> None:
        for name in DEFAULTS:
            self.__dict__.pop(name, None)
        for derived in _derived_values:
            derived.cache_clear()

    def profile(self, name: str) -> ClientProfile:
        """The profile called ``name``; ``KeyError`` when there is none."""
        return client_profile(name)

    def profiles(self) -> list[ClientProfile]:
        return [client_profile(name) for name in self.CLIENT_PROFILES]


doubletoken_settings = DoubleTokenSettings()

_derived_values: list[Any] = []


def derived_from_settings(build: Callable[..., Any]) -> Callable[..., Any]:
    """Cache a value computed from the settings until they change (``setting_changed``
    reloads ``doubletoken_settings``, which clears it), as Django caches its own derived
    settings."""
    cached = functools.lru_cache(maxsize=None)(build)
    _derived_values.append(cached)
    return cached


@derived_from_settings
def client_profile(name: str) -> ClientProfile:
    overrides = doubletoken_settings.CLIENT_PROFILES[name]
    return ClientProfile(
        name=name,
        access_lifetime=overrides.get(
            "ACCESS_TOKEN_LIFETIME", doubletoken_settings.ACCESS_TOKEN_LIFETIME
        ),
        refresh_lifetime=overrides.get(
            "REFRESH_TOKEN_LIFETIME", doubletoken_settings.REFRESH_TOKEN_LIFETIME
        ),
        session_lifetime=overrides.get("SESSION_LIFETIME", doubletoken_settings.SESSION_LIFETIME),
        max_sessions=overrides.get("MAX_SESSIONS"),
    )


def __getattr__(name: str) -> Any:
    # The settings object was called ``api_settings`` until 0.2, the name of DRF's own, which
    # a project module importing both would shadow; the old name keeps working for a while.
    if name == "api_settings":
        warnings.warn(
            "django_doubletoken.conf.api_settings is now doubletoken_settings.",
            DeprecationWarning,
            stacklevel=2,
        )
        return doubletoken_settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DOUBLETOKEN", "SECRET_KEY"):
        doubletoken_settings.reload()


setting_changed.connect(_reload)
