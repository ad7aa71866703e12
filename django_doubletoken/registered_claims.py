"""RFC 7519's registered claims that settings govern, both ways: ``iss``/``aud`` written when
configured, and on reading the claims' types, ``exp`` / ``nbf`` / ``iat`` against the clock
with ``LEEWAY``, and ``iss``/``aud`` (the same rules as PyJWT's)."""

from __future__ import annotations

import time
from typing import Any

from .conf import derived_from_settings, doubletoken_settings
from .errors import TokenError


def registered_claims() -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if doubletoken_settings.ISSUER:
        claims["iss"] = doubletoken_settings.ISSUER
    if doubletoken_settings.AUDIENCE:
        claims["aud"] = doubletoken_settings.AUDIENCE
    return claims


@derived_from_settings
def _leeway_seconds() -> float:
    return doubletoken_settings.LEEWAY.total_seconds()


def check_registered_claims(payload: dict[str, Any], expired_code: str) -> None:
    """exp / nbf / iat against the clock with LEEWAY, iss and aud when configured (RFC 7519
    §4.1; the same rules as PyJWT's). Types are already checked: exp and iat are ints."""
    now, leeway = time.time(), _leeway_seconds()
    if payload["iat"] > now + leeway:
        raise ValueError("issued in the future")
    if "nbf" in payload:
        nbf = payload["nbf"]
        # RFC 7519 NumericDate as we issue it: an integer (a boolean is no timestamp).
        if not isinstance(nbf, int) or isinstance(nbf, bool) or nbf > now + leeway:
            raise ValueError("nbf not an integer, or not yet valid")
    issuer = doubletoken_settings.ISSUER
    if issuer and not (payload.get("iss") == issuer if isinstance(issuer, str)
                       else payload.get("iss") in issuer):
        raise ValueError("wrong issuer")
    audience = doubletoken_settings.AUDIENCE
    if audience:
        claimed = payload.get("aud")
        claimed = [claimed] if isinstance(claimed, str) else claimed
        wanted = [audience] if isinstance(audience, str) else audience
        if not isinstance(claimed, list) or not any(a in claimed for a in wanted):
            raise ValueError("wrong audience")
    # Last, so that a token that is both expired and otherwise invalid says invalid.
    if payload["exp"] <= now - leeway:
        raise TokenError(expired_code)


def require_types(payload: dict[str, Any], types: dict[str, type]) -> None:
    for name, kind in types.items():
        value = payload.get(name)
        # bool is an int subclass; a boolean is never a valid timestamp or generation.
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"claim {name} missing or not {kind.__name__}")
