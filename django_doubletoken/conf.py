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


@dataclass(frozen=True)
class Setting:
    """One key of ``DOUBLETOKEN``: its default, the type it takes and what it does (Markdown).

    The settings reference of the documentation is generated from ``SETTINGS``, so a key
    cannot exist without its entry there."""

    name: str
    default: Any
    type: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("ACCESS_TOKEN_LIFETIME", timedelta(minutes=15), "timedelta",
            "Lifetime of an access token, for every client profile that does not override it."),
    Setting("REFRESH_TOKEN_LIFETIME", timedelta(days=1), "timedelta",
            "Lifetime of a refresh token, renewed by each rotation (profiles may override it)."),
    Setting("SESSION_LIFETIME", timedelta(days=30), "timedelta",
            "Absolute end of a device session, however often it is refreshed (profiles may "
            "override it)."),
    Setting("CLIENT_PROFILES", {
        "web": {},
        "mobile": {
            "ACCESS_TOKEN_LIFETIME": timedelta(minutes=30),
            "REFRESH_TOKEN_LIFETIME": timedelta(days=60),
            "SESSION_LIFETIME": timedelta(days=365),
        },
    }, "dict[str, dict]",
            "Client profiles, chosen by `client` in the login body. Each may override "
            "`ACCESS_TOKEN_LIFETIME`, `REFRESH_TOKEN_LIFETIME`, `SESSION_LIFETIME` and `DPOP`, "
            "and set "
            "`MAX_SESSIONS` (the oldest active session of that profile is revoked, reason "
            "`session_limit`, when a login would exceed it; off by default)."),
    Setting("DEFAULT_CLIENT", "web", "str",
            "The profile of a login that names none; a key of `CLIENT_PROFILES`."),
    Setting("SLIDING_THRESHOLD", timedelta(minutes=5), "timedelta",
            "The sliding middleware re-issues an access token whose remaining lifetime is at "
            "or below this (in the `NEW_TOKEN_HEADER` response header)."),
    Setting("GRACE_PERIOD", timedelta(seconds=30), "timedelta",
            "How long a replaced token still works, so that concurrent requests and tabs "
            "carrying it are not logged out: a slid access token, and the previous refresh "
            "token (which then returns the same pair). Shorter than every access lifetime."),
    Setting("NEW_TOKEN_HEADER", "NEW_HTTP_AUTHORIZATION", "str",
            "The response header carrying a slid access token (exposed to CORS clients)."),
    Setting("CACHE_ALIAS", "default", "str",
            "The cache (a key of `CACHES`) holding session state, the denylist and successors; "
            "shared by every worker."),
    Setting("ASYNC_CACHE_ALIAS", None, "str | None",
            "The cache the middleware's async (ASGI) path reads and writes, e.g. "
            "django-valkey's `AsyncValkeyCache` on the same server and keys as `CACHE_ALIAS`. "
            "`None`: `CACHE_ALIAS`."),
    Setting("CACHE_KEY_PREFIX", "doubletoken", "str", "Prefix of the app's cache keys."),
    Setting("SIGNING_KEY", None, "str | None",
            "HMAC secret (at least 32 characters), or private key (PEM) for "
            "`RS*`/`PS*`/`ES*`/`EdDSA`. `None`: a secret derived from `SECRET_KEY` (HMAC only; "
            "`check --deploy` warns when that key is weak). Set a dedicated one in production."),
    Setting("VERIFYING_KEY", None, "str | None",
            "Public key (PEM) of `SIGNING_KEY`; `None` derives it from the private key."),
    Setting("PREVIOUS_VERIFYING_KEYS", [], "list[str]",
            "Keys retired by a rotation (older secrets, or older public keys in PEM) whose "
            "tokens are still accepted; tokens name their key in the `kid` header, and the "
            "JWKS lists them."),
    Setting("ALGORITHM", "HS256", "str",
            "The JWS algorithm (`HS256`/`384`/`512`, `RS*`, `PS*`, `ES*`, `EdDSA`); `none` is "
            "refused."),
    Setting("ISSUER", None, "str | None", "Set and check the `iss` claim."),
    Setting("AUDIENCE", None, "str | None", "Set and check the `aud` claim."),
    Setting("LEEWAY", timedelta(seconds=10), "timedelta",
            "Clock skew tolerated on `exp`, `nbf` and `iat`."),
    Setting("LAST_USED_UPDATE_INTERVAL", timedelta(minutes=5), "timedelta",
            "A session's `last_used_at` is written at most once per interval."),
    Setting("REVOKE_ON_PASSWORD_CHANGE", True, "bool",
            "Changing a user's password (or making it unusable) logs them out of every device."),
    Setting("ACCESS_TOKEN_CLAIMS", None, "str | None",
            "Dotted path of a function `(user, session) -> dict` whose claims go into every "
            "access token issued at login and refresh, carried unchanged by slides; read in "
            "views as `request.auth.claims`. `None`: no claims of the project's own."),
    Setting("LOGIN_SERIALIZER", "django_doubletoken.serializers.LoginSerializer", "str",
            "Dotted path of the login endpoint's serializer. It validates the body and puts "
            "the authenticated `user` (and `device`, `client` if it takes them) into "
            "`validated_data`; the default takes the user model's `USERNAME_FIELD` and "
            "`password` and checks them with `django.contrib.auth.authenticate()`."),
    Setting("LOGIN_THROTTLE_RATE", "10/min", "str | None",
            "DRF throttle rate of the login endpoint, per client address (see "
            "`CLIENT_IP_HEADER`); `None` disables it. `reauthenticate/` counts its attempts "
            "at the same rate, per session."),
    Setting("PASSWORD_ACR", "pwd", "str",
            "The `acr` (authentication context class reference, RFC 9470) that a password "
            "login and a password re-authentication record, next to the `amr` `[\"pwd\"]`; "
            "what `RequireACR` compares. A project with levels of its own (`\"1\"`, a URI) "
            "sets it; stronger methods name theirs in `REAUTHENTICATION_METHODS`."),
    Setting("REAUTHENTICATION_METHODS", {}, "dict[str, dict]",
            "Ways to re-authenticate a session besides the password (`reauthenticate/` with "
            "`{\"method\": name, ...}`): name → `{\"VERIFY\": dotted path of a function "
            "(request, user, data) -> bool, \"ACR\": str, \"AMR\": [str, ...]}`. A success "
            "records that `acr` and `amr` on the session; `False` is a 401 "
            "`invalid_credentials` and sends `user_login_failed`. See the step-up how-to."),
    Setting("REVOCATION_CHECK", True, "bool",
            "`False`: access tokens are checked by signature and expiry only (no cache round "
            "trip), so revocation takes effect only when they expire. A benchmark floor, not "
            "advised."),
    Setting("CLIENT_SIDE_CACHE", False, "bool",
            "Keep each session's request state in process memory until Redis reports a change "
            "(`CLIENT TRACKING`, Redis ≥ 6), so a steady-state request makes no cache round "
            "trip. Needs django-redis' `DefaultClient` on one Redis server; other backends keep "
            "one round trip. Trade-off: [Client-side cache](../how-to/client-side-cache.md)."),
    Setting("CLIENT_SIDE_CACHE_MAX_ENTRIES", 10_000, "int",
            "Keys held per process (three per active session, about 0.3 KB each), least "
            "recently used evicted first."),
    Setting("CLIENT_SIDE_CACHE_MAX_AGE", timedelta(seconds=5), "timedelta",
            "An entry is read from Redis again after this long even without an invalidation: "
            "the bound on staleness should the invalidation link fail silently."),
    Setting("MAX_TOKEN_LENGTH", 4096, "int",
            "Longer `Authorization` headers or token fields are refused before any decoding; "
            "an access token whose custom claims would exceed it is refused at issue time."),
    Setting("REFRESH_COOKIE_NAME", None, "str | None",
            "Turns on cookie transport: the refresh token travels in an HttpOnly cookie of "
            "this name, never seen by scripts, for the profiles in `REFRESH_COOKIE_CLIENTS`."),
    Setting("REFRESH_COOKIE_CLIENTS", ("web",), "tuple[str, ...]",
            "The profiles that use the refresh cookie; the others keep the token in the body."),
    Setting("REFRESH_COOKIE_PATH", None, "str | None",
            "The cookie's `Path`. `None`: the refresh endpoint's own URL, so the cookie is sent "
            "nowhere else."),
    Setting("REFRESH_COOKIE_DOMAIN", None, "str | None", "The cookie's `Domain`."),
    Setting("REFRESH_COOKIE_SECURE", True, "bool", "The cookie's `Secure` flag."),
    Setting("REFRESH_COOKIE_SAMESITE", "Strict", "str",
            "The cookie's `SameSite` (`Strict`, `Lax`, or `None` across sites)."),
    Setting("REVOCATION_REPLICA_ACKS", 0, "int",
            "Redis replicas that must acknowledge a revocation (`WAIT`, on the primary that "
            "took it) before logout answers, so that a failover cannot lose it; 1 with "
            "Sentinel, replicas or Redis Cluster. 0: do not wait."),
    Setting("REVOCATION_REPLICA_TIMEOUT", timedelta(seconds=1), "timedelta",
            "How long that `WAIT` may take (keep it below the cache's socket timeout)."),
    Setting("CLIENT_IP_HEADER", None, "str | None",
            "WSGI `META` key holding the client address behind one trusted proxy, e.g. "
            "`\"HTTP_X_FORWARDED_FOR\"`: its last address (the one that proxy added) is "
            "recorded and keys the login throttle. `None`: `REMOTE_ADDR`."),
    Setting("DPOP", "off", "str",
            "DPoP (RFC 9449): tokens bound to a key the client holds "
            "([DPoP](../explanation/dpop.md)). `\"off\"`; `\"optional\"`: a login with a "
            "valid `DPoP` proof binds the session to its key; `\"required\"`: login and "
            "refresh need one. Profiles may override it."),
    Setting("DPOP_ALGORITHMS", ("ES256", "EdDSA", "RS256", "PS256"), "tuple[str, ...]",
            "The asymmetric algorithms a proof may be signed with; also `ES384`, `ES512`, "
            "`RS384`, `RS512`, `PS384`, `PS512` and RFC 9864's `Ed25519`, `Ed448`. Never an "
            "HMAC or `none`."),
    Setting("DPOP_PROOF_MAX_AGE", timedelta(seconds=60), "timedelta",
            "A proof is accepted this long after its `iat` (and `LEEWAY` before it); its `jti` "
            "is remembered as long, to refuse a replay."),
    Setting("DPOP_NONCE", False, "bool",
            "Require a server nonce (`DPoP-Nonce`) in every proof. Stateless, derived from the "
            "signing key, so any worker on any host accepts it."),
    Setting("DPOP_NONCE_ROTATION", timedelta(minutes=5), "timedelta",
            "How often the nonce changes; each is accepted for one to two of these."),
    Setting("SIMPLEJWT_MIGRATION", None, "dict | None",
            "Moving from djangorestframework-simplejwt without logging anyone out (opt-in; "
            "see the simplejwt how-to): `{\"UNTIL\": ...}`, a timezone-aware `datetime` or "
            "an ISO 8601 string with offset, plus optional `\"CLIENT\"` (profile of the "
            "sessions opened; default `DEFAULT_CLIENT`) and `\"DEVICE\"` (their label; "
            "default empty). Until then `refresh/` also takes a simplejwt refresh token, "
            "verified with the project's `SIMPLE_JWT` settings, and exchanges it once for a "
            "device session; from then on every simplejwt token is refused with "
            "`simplejwt_migration_ended`. `None`: off."),
)

DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}

# Settings given as a dotted path (or as the object itself), read as the object they name.
IMPORT_STRINGS = ("ACCESS_TOKEN_CLAIMS", "LOGIN_SERIALIZER")

PROFILE_KEYS = (
    "ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME", "SESSION_LIFETIME", "MAX_SESSIONS",
    "DPOP",
)


@dataclass(frozen=True)
class ClientProfile:
    name: str
    access_lifetime: timedelta
    refresh_lifetime: timedelta
    session_lifetime: timedelta
    max_sessions: int | None
    dpop: str = "off"  # "off", "optional" or "required"


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
        dpop=overrides.get("DPOP", doubletoken_settings.DPOP),
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
