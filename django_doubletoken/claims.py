"""Custom access-token claims: ``DOUBLETOKEN["ACCESS_TOKEN_CLAIMS"]``.

The dotted path of a callable ``(user, session) -> dict``. Its result goes into every access
token issued at login and at refresh, and the sliding middleware copies it unchanged into the
tokens it re-issues (no database read on the hot path), so a change (a new role) shows up at
the next refresh. Views read it from ``request.auth.claims``.

A result the app cannot put into a token is a configuration error, raised before any state
changes (``ClaimsError`` names the claim): not a dict with string keys, a name the app or
RFC 7519 uses, a value JSON cannot represent, or a token longer than ``MAX_TOKEN_LENGTH``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .conf import doubletoken_settings

# Claims the app sets itself (RFC 7519 registered ones, the JOSE header's names, and ours).
RESERVED_CLAIMS = frozenset({
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti",
    "typ", "alg", "kid", "cty",
    "sid", "client", "sxp", "gen", "axp",
    "cnf", "auth_time", "acr", "amr",  # tokens.SessionContext
})


class ClaimsError(ImproperlyConfigured):
    """ACCESS_TOKEN_CLAIMS returned something that cannot go into an access token."""


def claims_function() -> Callable[[Any, Any], Mapping[str, Any]] | None:
    return doubletoken_settings.ACCESS_TOKEN_CLAIMS


def _source() -> str:
    given = doubletoken_settings.given("ACCESS_TOKEN_CLAIMS")
    return given if isinstance(given, str) else getattr(given, "__qualname__", "custom claims")


def custom_claims(session: Any, user: Any = None) -> dict[str, Any]:
    """The custom claims for an access token of ``session`` (a ``DeviceSession``), checked;
    ``{}`` when ACCESS_TOKEN_CLAIMS is not set. ``user`` saves loading ``session.user``."""
    function = claims_function()
    if function is None:
        return {}
    return checked_claims(function(session.user if user is None else user, session))


def checked_claims(claims: Any) -> dict[str, Any]:
    """``claims`` as a plain dict, or ``ClaimsError`` saying which claim is wrong and why."""
    source = _source()
    if not isinstance(claims, Mapping):
        raise ClaimsError(f"{source} must return a dict of claims, not {type(claims).__name__}.")
    checked: dict[str, Any] = {}
    for name, value in claims.items():
        if not isinstance(name, str) or not name:
            raise ClaimsError(f"{source} returned a claim named {name!r}: names are non-empty "
                              "strings.")
        if name in RESERVED_CLAIMS:
            raise ClaimsError(f"{source} returned the claim {name!r}, which django-doubletoken "
                              f"sets itself; reserved: {', '.join(sorted(RESERVED_CLAIMS))}.")
        if not _is_json(value):
            raise ClaimsError(f"{source} returned the claim {name!r} with a value JSON cannot "
                              f"represent ({type(value).__name__}); use str, int, float, bool, "
                              "None, and lists or dicts of them.")
        checked[name] = value
    return checked


def _is_json(value: Any) -> bool:
    """Plain JSON only: what decodes back to the same value (no tuples, sets, NaN, objects)."""
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def check_length(token: str) -> str:
    """An issued token must be accepted back: never longer than MAX_TOKEN_LENGTH."""
    limit = doubletoken_settings.MAX_TOKEN_LENGTH
    if len(token) > limit:
        raise ClaimsError(
            f"The access token would be {len(token)} characters long, over MAX_TOKEN_LENGTH "
            f"({limit}); the claims from {_source()} are too large. "
            "Put less into the token (an id rather than a list), or raise MAX_TOKEN_LENGTH "
            "(and your proxies' header size limits)."
        )
    return token
