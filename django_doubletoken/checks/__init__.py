"""System checks: a wrong DOUBLETOKEN setting or setup is reported at startup with the fix.

One id means one problem, so that silencing an id (``SILENCED_SYSTEM_CHECKS``) silences that
problem and nothing else. ``CHECKS`` lists every id once, with its level, subject, message and
hint; the checks build their messages from it (``problem()``) and the documentation's
system-check reference is generated from it. The checks themselves live by subject:
``settings`` (settings and client profiles; the DPoP ones in ``dpop``), ``keys``, ``cache``
(the cache and the client-side cache), ``deployment``, ``channels`` (the channel layer),
``migrations`` and ``simplejwt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.checks import CheckMessage, Error, Warning

PREFIX = "django_doubletoken."
LEVELS = {"error": Error, "warning": Warning}


@dataclass(frozen=True)
class CheckSpec:
    """One system check id. ``message`` and ``hint`` are ``str.format`` templates filled in
    with what the check found (``{key!r}``, ``{name!r}``, ...)."""

    id: str
    level: str  # "error" or "warning"
    subject: str
    message: str
    hint: str

    def problem(self, **found: Any) -> CheckMessage:
        return LEVELS[self.level](self.message.format(**found), hint=self.hint.format(**found),
                                  id=self.id)


def _registry(*specs: tuple[str, str, str, str]) -> dict[str, CheckSpec]:
    """``(short id, subject, message, hint)`` rows; the level follows from the id's letter."""
    registry = {}
    for short_id, subject, message, hint in specs:
        level = {"E": "error", "W": "warning"}[short_id[0]]
        spec = CheckSpec(PREFIX + short_id, level, subject, message, hint)
        assert spec.id not in registry, f"{spec.id} is listed twice"
        registry[spec.id] = spec
    return registry


SETTINGS, KEYS, CACHE, DEPLOYMENT = "settings", "keys", "cache", "deployment"

CHECKS: dict[str, CheckSpec] = _registry(
    # --- settings and client profiles ---
    ("E001", SETTINGS, "DOUBLETOKEN must be a dict.", "Set DOUBLETOKEN = {{...}} or remove it."),
    ("E002", SETTINGS, "DOUBLETOKEN has an unknown key {key!r}.", "Check its spelling."),
    ("E003", SETTINGS, "{setting} must be a positive datetime.timedelta.",
     "For example timedelta(minutes=15)."),
    ("E004", SETTINGS, "DOUBLETOKEN[{key!r}] must be a datetime.timedelta of zero or more.",
     "For example timedelta(seconds=30)."),
    ("E024", SETTINGS, "DOUBLETOKEN['CLIENT_PROFILES'] must be a non-empty dict.",
     "For example {{'web': {{}}, 'mobile': {{'REFRESH_TOKEN_LIFETIME': ...}}}}."),
    ("E025", SETTINGS, "Client profile {name!r} must be a dict.", "Use {{}} for none."),
    ("E005", SETTINGS, "Client profile {name!r} has unknown keys {unknown}.",
     "Allowed: {allowed}."),
    ("E006", SETTINGS, "DOUBLETOKEN['DEFAULT_CLIENT'] {client!r} is not a profile.",
     "Use one of {profiles}."),
    ("E007", SETTINGS, "Client profile {name!r}: MAX_SESSIONS must be None or an integer of "
     "at least 1.", "None means no limit."),
    ("E008", SETTINGS, "Client profile {name!r}: SLIDING_THRESHOLD ({threshold}) must be "
     "shorter than the access token lifetime ({access}).",
     "Typically a third of the access lifetime."),
    ("E026", SETTINGS, "Client profile {name!r}: the access token lifetime ({access}) must be "
     "shorter than the refresh token lifetime ({refresh}).",
     "Lengthen REFRESH_TOKEN_LIFETIME or shorten ACCESS_TOKEN_LIFETIME."),
    ("E027", SETTINGS, "Client profile {name!r}: REFRESH_TOKEN_LIFETIME ({refresh}) exceeds "
     "SESSION_LIFETIME ({session}).", "A refresh token can never outlive its session; lower it."),
    ("E019", SETTINGS, "Client profile {name!r}: GRACE_PERIOD ({grace}) must be shorter than "
     "the access token lifetime ({access}).",
     "The grace window covers concurrent and retried requests: seconds, not the token's "
     "lifetime. The default is 30 seconds."),
    ("E013", SETTINGS, "DOUBLETOKEN['NEW_TOKEN_HEADER'] must be a header name of letters, "
     "digits, '-' and '_'.", "The default is 'NEW_HTTP_AUTHORIZATION'."),
    ("E015", SETTINGS, "DOUBLETOKEN['MAX_TOKEN_LENGTH'] must be an integer of at least 512.",
     "The default is 4096."),
    ("E016", SETTINGS, "DOUBLETOKEN['LOGIN_THROTTLE_RATE'] {rate!r} is not a rate.",
     "Use 'N/second', 'N/minute', 'N/hour', 'N/day' or None."),
    ("E017", SETTINGS, "DOUBLETOKEN[{key!r}] must be a string or None.",
     "None leaves it unset."),
    ("E022", SETTINGS, "DOUBLETOKEN['LOGIN_SERIALIZER'] {path!r} is not a serializer class: "
     "{reason}.", "Give the dotted path of a DRF Serializer subclass whose validated_data "
     "holds 'user'."),
    ("E023", SETTINGS, "DOUBLETOKEN['ACCESS_TOKEN_CLAIMS'] {path!r} is not a function: "
     "{reason}.", "Give the dotted path of a function (user, session) -> dict, or None."),
    # --- DPoP (checks/dpop.py) ---
    ("E050", SETTINGS, "{where} is {mode!r}, not one of {modes}.",
     "'off' (default), 'optional' or 'required'."),
    ("E051", SETTINGS, "DOUBLETOKEN['DPOP_ALGORITHMS'] must be a non-empty list of algorithm "
     "names.", "Choose from {choices}; the default is ES256, EdDSA, RS256, PS256."),
    ("E052", SETTINGS, "DOUBLETOKEN['DPOP_ALGORITHMS'] lists {refused}: DPoP proofs are signed "
     "with an asymmetric key, never with 'none' (anyone could make proofs) or an HMAC (the "
     "proof's header cannot carry a secret key).",
     "Choose from {choices}; the default is ES256, EdDSA, RS256, PS256."),
    ("E053", SETTINGS, "DOUBLETOKEN['DPOP_ALGORITHMS'] lists {missing}, which PyJWT cannot "
     "verify here.", "Install the 'cryptography' package (the 'crypto' extra)."),
    ("E054", SETTINGS, "DOUBLETOKEN[{key!r}] must be a positive datetime.timedelta.",
     "The default is {default}."),
    ("E055", SETTINGS, "DOUBLETOKEN['DPOP_NONCE'] must be True or False.",
     "False (default) asks for no server nonce."),
    # --- signing and verifying keys ---
    ("E010", KEYS, "DOUBLETOKEN['ALGORITHM'] {algorithm!r} is not a signing algorithm "
     "PyJWT offers here.", "HS256 (default), RS256, ES256 or EdDSA; RS, ES and EdDSA need the "
     "'cryptography' package installed."),
    ("E011", KEYS, "HMAC keys (SIGNING_KEY, PREVIOUS_VERIFYING_KEYS) must be secrets of at "
     "least 32 characters.", "Generate one with secrets.token_urlsafe(48)."),
    ("E028", KEYS, "DOUBLETOKEN['PREVIOUS_VERIFYING_KEYS'] must be a list.",
     "List the keys retired by a rotation, or leave it empty."),
    ("E012", KEYS, "The signing keys cannot be used: {error}",
     "Give SIGNING_KEY as a PEM private key for the algorithm (VERIFYING_KEY, optional, as "
     "its PEM public key), or use HS256."),
    # --- the cache and the client-side cache ---
    ("E014", CACHE, "DOUBLETOKEN[{key!r}] {alias!r} is not in CACHES.",
     "Add it to CACHES or name an existing alias."),
    ("E029", CACHE, "DOUBLETOKEN['REVOCATION_REPLICA_ACKS'] must be an integer of 0 or more.",
     "0 (default) does not wait for replicas."),
    ("E018", CACHE, "DOUBLETOKEN['REVOCATION_REPLICA_ACKS'] needs a django-redis or "
     "django-valkey cache (not a sharded one): it sends Redis WAIT to the primary that took "
     "the revocation.", "Set it to 0."),
    ("E020", CACHE, "The cache {alias!r} ({backend}) has only async methods; the app's sync "
     "path (DRF authentication, login, refresh, revocation) calls get_many, add and set.",
     "Use the same server through a sync backend, e.g. django_valkey.cache.ValkeyCache (it "
     "has native async methods as well)."),
    ("E021", CACHE, "DOUBLETOKEN['ASYNC_CACHE_ALIAS'] {alias!r} does not reach the same keys "
     "as CACHE_ALIAS {sync_alias!r} ({differing} differ): the async path would not see "
     "revocations made by the sync path.",
     "Give both the same LOCATION, KEY_PREFIX, VERSION and KEY_FUNCTION."),
    ("W003", CACHE, "The cache {alias!r} ({backend}) {why}: a logout or revocation in one "
     "worker is not seen by another, which keeps accepting the token.",
     "Point DOUBLETOKEN['CACHE_ALIAS'] at a Redis cache (django-redis or Django's "
     "RedisCache). For a single-process development server only, silence this with "
     "SILENCED_SYSTEM_CHECKS = ['django_doubletoken.W003']."),
    ("W006", CACHE, "The cache {alias!r} ({backend}) fetches several keys one at a time: each "
     "authenticated request costs 3 cache round trips instead of one.",
     "For more than one Redis, use a Redis Cluster backend "
     "(django_valkey.cluster_cache.cache.ClusterValkeyCache): a session's keys share a hash "
     "slot, so its get_many is one MGET."),
    ("W007", CACHE, "The cluster cache {alias!r} knows one node of the cluster ({location}): "
     "a process or thread that opens its client while that node is down cannot reach the "
     "cluster at all, even once a replica has taken over (Django keeps a cache client per "
     "thread, opened on first use).",
     "List the other nodes as well: OPTIONS['BASE_CLIENT_KWARGS'] = {{'startup_nodes': "
     "[valkey.cluster.ClusterNode('10.0.0.2', 6379), ...]}}."),
    ("E030", CACHE, "DOUBLETOKEN['CLIENT_SIDE_CACHE'] must be True or False.",
     "False (default) makes one cache round trip per request."),
    ("E031", CACHE, "DOUBLETOKEN['CLIENT_SIDE_CACHE_MAX_ENTRIES'] must be an integer of at "
     "least 3 (one session's keys).", "The default is 10000."),
    ("E032", CACHE, "DOUBLETOKEN['CLIENT_SIDE_CACHE_MAX_AGE'] must be a positive "
     "datetime.timedelta.", "The default is timedelta(seconds=5)."),
    ("E040", SETTINGS, "{error}",
     "See the simplejwt how-to (docs/how-to/simplejwt.md) for SIMPLEJWT_MIGRATION and the "
     "SIMPLE_JWT settings it reads."),
    ("W041", SETTINGS, "DOUBLETOKEN['SIMPLEJWT_MIGRATION'] ended on {until}: every simplejwt "
     "token is now refused.",
     "Remove SIMPLEJWT_MIGRATION, SIMPLE_JWT and djangorestframework-simplejwt."),
    ("E060", SETTINGS, "DOUBLETOKEN['REAUTHENTICATION_METHODS'] cannot be used: {error}",
     "Map each method's name to {{\"VERIFY\": the dotted path of verify(request, user, data) "
     "-> bool, \"ACR\": a string, \"AMR\": a list of strings}}; \"password\" is built in "
     "(docs/how-to/step-up.md)."),
    ("E061", SETTINGS, "DOUBLETOKEN['PASSWORD_ACR'] must be a non-empty string without spaces "
     "or quotes.", "The default is \"pwd\"; an acr is written in RFC 9470 challenges."),
    # --- deployment ---
    ("W001", DEPLOYMENT, "{middleware} is not in MIDDLEWARE: access tokens will not slide.",
     "Add it to MIDDLEWARE (above corsheaders.middleware.CorsMiddleware if used)."),
    ("W002", DEPLOYMENT, "{middleware} is below CorsMiddleware, which may overwrite "
     "Access-Control-Expose-Headers so browsers cannot read the new token header.",
     "Move it above CorsMiddleware, or add the header name to CORS_EXPOSE_HEADERS."),
    ("W004", DEPLOYMENT, "The user admin does not show device sessions.",
     "List 'django_doubletoken' below 'django.contrib.admin' in INSTALLED_APPS, or add "
     "django_doubletoken.admin.UserSessionsAdminMixin to your UserAdmin."),
    ("W005", DEPLOYMENT, "DOUBLETOKEN['SIGNING_KEY'] is not set, so access and refresh tokens "
     "are signed with a key derived from SECRET_KEY, which is short, has few distinct "
     "characters or starts with {insecure_prefix!r}: whoever knows or guesses it can forge "
     "tokens for any user.",
     "Set DOUBLETOKEN['SIGNING_KEY'] to a dedicated secret read from the environment "
     "(generate one with: python -c \"import secrets; print(secrets.token_urlsafe(48))\"), "
     "and give SECRET_KEY a strong value too."),
    ("W040", DEPLOYMENT, "{count} migration(s) of django_doubletoken not applied to the "
     "{alias!r} database ({names}): login, refresh and every session query fail until they "
     "are.", "Run `{command}`."),
    ("W010", DEPLOYMENT, "CHANNEL_LAYERS[{alias!r}] host {index}: the Redis client's socket "
     "timeout ({timeout:g} s, {source}) is not above the layer's blocking read "
     "({blocking_read:g} s). Every idle read then fails with a TimeoutError: a consumer "
     "listening on the layer (any consumer with groups) is dropped without a close frame, and "
     "DoubleTokenAuthMiddleware has to re-check each socket's session every few seconds.",
     "Give the host an explicit socket timeout above {blocking_read:g} s, e.g. "
     "{{\"address\": REDIS_URL, \"socket_timeout\": {suggested:g}}} (see the WebSockets "
     "how-to)."),
)


def problem(short_id: str, **found: Any) -> CheckMessage:
    """The check message of ``django_doubletoken.<short_id>``, filled in with ``found``."""
    return CHECKS[PREFIX + short_id].problem(**found)


# The subject modules register their checks with Django on import.
from .cache import check_cache_backend  # noqa: E402
from .channels import check_channel_layers  # noqa: E402
from .deployment import check_deploy, check_setup  # noqa: E402
from .migrations import check_migrations_applied  # noqa: E402
from .settings import check_settings  # noqa: E402
from .simplejwt import check_simplejwt_migration  # noqa: E402

__all__ = ["CHECKS", "CheckSpec", "check_cache_backend", "check_channel_layers", "check_deploy",
           "check_migrations_applied", "check_settings", "check_setup",
           "check_simplejwt_migration", "problem"]
