"""Encoding and verifying the two JWTs with PyJWT.

Both carry the ``kid`` of their signing key (see ``keys``).

Access token (RFC 9068 header ``typ: at+jwt``): ``sub``, ``sid``, ``jti``, ``iat``, ``exp``,
``client`` (profile) and ``sxp`` (the session's refresh expiry when issued, so the sliding
middleware never re-issues past it without a database read), plus ``iss``/``aud`` when set and
the project's own claims (``claims``: ACCESS_TOKEN_CLAIMS).

Refresh token (``typ: rt+jwt``): ``sub``, ``sid``, ``gen`` (the session's refresh generation),
``jti``, ``iat``, ``exp``, ``client`` and ``axp`` (the session's absolute expiry), the last two
so that a rotation can be one conditional UPDATE without reading the row first. Its ``jti``
is derived from (sid, gen) and the pair issued by a rotation is a function of the session row
alone, so a replay inside the grace window can return the very same pair without any token
ever being stored.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from .claims import RESERVED_CLAIMS, check_length
from .conf import api_settings, derived_from_settings
from .errors import SESSION_EXPIRED, TOKEN_EXPIRED, TOKEN_INVALID, TokenError
from .keys import key_ring

ACCESS_TYP = "at+jwt"
REFRESH_TYP = "rt+jwt"

def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """RFC 7519 §4: claim names must be unique. Refuse duplicates instead of keeping the
    last one, so no two parsers can ever read different claims from one token."""
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError("duplicate member name")
    return dict(pairs)


class _StrictJWT(jwt.PyJWT):
    def _decode_payload(self, decoded: dict[str, Any]) -> dict[str, Any]:
        try:
            payload = json.loads(decoded["payload"], object_pairs_hook=_unique_members)
        except (ValueError, RecursionError) as exc:
            raise jwt.DecodeError(f"Invalid payload: {exc}") from exc
        if not isinstance(payload, dict):
            raise jwt.DecodeError("Invalid payload: not a JSON object")
        _check_time_claims(payload)
        return payload


TIME_CLAIMS = ("exp", "nbf", "iat")


def _check_time_claims(payload: dict[str, Any]) -> None:
    """RFC 7519 NumericDate, as we issue it: an integer. PyJWT would take ``int(value)`` of
    a string, a float or a boolean (``exp: true`` read as 1970, "expired"); checked here,
    after the signature and before PyJWT validates the times, a wrong type is invalid."""
    for name in TIME_CLAIMS:
        if name in payload:
            value = payload[name]
            # bool is an int subclass: True is not a timestamp.
            if not isinstance(value, int) or isinstance(value, bool):
                raise jwt.DecodeError(f"Invalid payload: {name} is not an integer NumericDate")


_jwt = _StrictJWT()


def _unverified_header(raw: str) -> dict[str, Any]:
    segment = raw.split(".", 1)[0]
    try:
        header = json.loads(
            base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)),
            object_pairs_hook=_unique_members,
        )
    except (ValueError, RecursionError, TypeError):
        raise TokenError(TOKEN_INVALID) from None
    if not isinstance(header, dict):
        raise TokenError(TOKEN_INVALID)
    return header


@dataclass(frozen=True)
class AccessClaims:
    """A verified access token's claims. ``claims["roles"]`` (or ``.get()``) reads any claim,
    the project's own (``custom``, from ACCESS_TOKEN_CLAIMS) as well as the app's."""

    sub: str
    sid: str
    jti: str
    iat: int
    exp: int
    client: str
    session_expires: int
    custom: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __getitem__(self, name: str) -> Any:
        if name in self.custom:
            return self.custom[name]
        standard = _STANDARD_ATTRIBUTES.get(name)
        if standard is None:
            raise KeyError(name)
        return getattr(self, standard)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default


# Claim name -> AccessClaims attribute.
_STANDARD_ATTRIBUTES = {
    "sub": "sub", "sid": "sid", "jti": "jti", "iat": "iat", "exp": "exp", "client": "client",
    "sxp": "session_expires",
}


@dataclass(frozen=True)
class RefreshClaims:
    sub: str
    sid: str
    generation: int
    jti: str
    iat: int
    exp: int
    client: str
    absolute_expires: int


def derived_jti(sid: str, generation: int, kind: str) -> str:
    digest = hashlib.sha256(f"{sid}:{generation}:{kind}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def _registered_claims() -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if api_settings.ISSUER:
        claims["iss"] = api_settings.ISSUER
    if api_settings.AUDIENCE:
        claims["aud"] = api_settings.AUDIENCE
    return claims


def _encode(payload: dict[str, Any], typ: str) -> str:
    ring = key_ring()
    return jwt.encode(
        payload,
        ring.signing_key,
        algorithm=ring.algorithm,
        headers={"typ": typ, "kid": ring.signing_kid},
    )


def encode_access(
    *, sub: str, sid: str, jti: str, iat: int, exp: int, client: str, session_expires: int,
    custom: Mapping[str, Any] | None = None,
) -> str:
    """``custom``: claims already checked by ``claims.checked_claims``. ``ClaimsError`` when
    the token would be longer than MAX_TOKEN_LENGTH (it would be refused on its way back)."""
    payload = dict(custom or {})
    payload.update(_registered_claims())
    payload.update(sub=sub, sid=sid, jti=jti, iat=iat, exp=exp, client=client, sxp=session_expires)
    return check_length(_encode(payload, ACCESS_TYP))


def encode_refresh(
    *, sub: str, sid: str, generation: int, iat: int, exp: int, client: str,
    absolute_expires: int,
) -> str:
    payload = _registered_claims()
    payload.update(
        sub=sub,
        sid=sid,
        gen=generation,
        jti=derived_jti(sid, generation, "refresh"),
        iat=iat,
        exp=exp,
        client=client,
        axp=absolute_expires,
    )
    return _encode(payload, REFRESH_TYP)


def _verification_key(raw: str, typ: str) -> tuple[Any, str]:
    """The key named by the token's ``kid``, once its (still unverified) header says the
    expected ``typ``. The signature check that follows covers the header too."""
    header = _unverified_header(raw)
    ring = key_ring()
    key = ring.verifying_keys.get(header.get("kid")) if isinstance(header.get("kid"), str) else None
    if header.get("typ") != typ or key is None:
        raise TokenError(TOKEN_INVALID)
    return key, ring.algorithm


def _decode(raw: str, typ: str, required: list[str], expired_code: str) -> dict[str, Any]:
    if not isinstance(raw, str) or not raw or len(raw) > api_settings.MAX_TOKEN_LENGTH:
        raise TokenError(TOKEN_INVALID)
    key, algorithm = _verification_key(raw, typ)
    try:
        return _jwt.decode(
            raw,
            key,
            algorithms=[algorithm],
            issuer=api_settings.ISSUER,
            audience=api_settings.AUDIENCE,
            leeway=api_settings.LEEWAY,
            options={"require": required, "verify_aud": bool(api_settings.AUDIENCE)},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError(expired_code) from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        # Every other reason (signature, alg, nbf, iss, aud, malformed) is one code: the
        # client can only log in again, and the reason is not ours to tell an attacker.
        raise TokenError(TOKEN_INVALID) from None


def _require_types(payload: dict[str, Any], **types: type) -> None:
    for name, kind in types.items():
        value = payload.get(name)
        # bool is an int subclass; a boolean is never a valid timestamp or generation.
        if not isinstance(value, kind) or isinstance(value, bool):
            raise TokenError(TOKEN_INVALID)


@derived_from_settings
def longest_access_seconds() -> float:
    """The longest any access token can be accepted: the longest profile lifetime + LEEWAY."""
    longest = max(p.access_lifetime for p in api_settings.profiles())
    return (longest + api_settings.LEEWAY).total_seconds()


def decode_access(raw: str) -> AccessClaims:
    """Verify an access token; raise ``TokenError`` (401 with a code) otherwise."""
    payload = _decode(
        raw, ACCESS_TYP, ["exp", "iat", "sub", "sid", "jti", "sxp", "client"], TOKEN_EXPIRED
    )
    _require_types(payload, sub=str, sid=str, jti=str, client=str, iat=int, exp=int, sxp=int)
    # A token living longer than any profile allows was not issued by us as configured.
    if payload["exp"] - payload["iat"] > longest_access_seconds():
        raise TokenError(TOKEN_INVALID)
    return AccessClaims(
        sub=payload["sub"],
        sid=payload["sid"],
        jti=payload["jti"],
        iat=payload["iat"],
        exp=payload["exp"],
        client=payload["client"],
        session_expires=payload["sxp"],
        custom={k: v for k, v in payload.items() if k not in RESERVED_CLAIMS},
    )


def decode_refresh(raw: str) -> RefreshClaims:
    """Verify a refresh token's signature and claims; an expired one means the session ended."""
    payload = _decode(
        raw, REFRESH_TYP, ["exp", "iat", "sub", "sid", "gen", "jti", "client", "axp"],
        SESSION_EXPIRED,
    )
    _require_types(payload, sub=str, sid=str, jti=str, client=str, iat=int, exp=int, gen=int,
                   axp=int)
    return RefreshClaims(
        sub=payload["sub"],
        sid=payload["sid"],
        generation=payload["gen"],
        jti=payload["jti"],
        iat=payload["iat"],
        exp=payload["exp"],
        client=payload["client"],
        absolute_expires=payload["axp"],
    )
