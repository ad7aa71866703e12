"""Encoding and verifying the two JWTs.

The compact serialisation and every check (header, pinned algorithm, ``kid``, canonical
base64, claims and their types) are this module's own, each step done once; PyJWT's algorithm
objects do the cryptography (signing and verifying the signature), and the tokens are byte
for byte what ``jwt.encode`` would write.

Both carry the ``kid`` of their signing key (see ``keys``).

Access token (RFC 9068 header ``typ: at+jwt``): ``sub``, ``sid``, ``jti``, ``iat``, ``exp``,
``client`` (profile) and ``sxp`` (the session's refresh expiry when issued, so the sliding
middleware never re-issues past it without a database read), plus ``iss``/``aud`` when set and
the project's own claims (``claims``: ACCESS_TOKEN_CLAIMS).

Both also carry the session's ``SessionContext`` where it is set: ``cnf.jkt`` (RFC 9449: the
DPoP key the session is bound to), ``auth_time``, ``acr`` and ``amr`` (RFC 9470: when and how the
user last proved who they are). Refresh and slide copy it unchanged, so a rotation still needs
no read of the row.

Refresh token (``typ: rt+jwt``): ``sub``, ``sid``, ``gen`` (the session's refresh generation),
``jti``, ``iat``, ``exp``, ``client`` and ``axp`` (the session's absolute expiry), the last two
so that a rotation can be one conditional UPDATE without reading the row first. Its ``jti``
is derived from (sid, gen) and the pair issued by a rotation is a function of the session row
alone, so a replay inside the grace window can return the very same pair without any token
ever being stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any

import jwt

from .claims import RESERVED_CLAIMS, check_length
from .conf import derived_from_settings, doubletoken_settings
from .errors import SESSION_EXPIRED, TOKEN_EXPIRED, TOKEN_INVALID, TokenError
from .keys import key_ring

ACCESS_TYP = "at+jwt"
REFRESH_TYP = "rt+jwt"


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """RFC 7519 §4: claim names must be unique. Refuse duplicates instead of keeping the
    last one, so no two parsers can ever read different claims from one token."""
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate member name")
    return members


# One decoder for every token: json.loads(..., object_pairs_hook=...) builds a new one per call.
_json = json.JSONDecoder(object_pairs_hook=_unique_members)
# Three unpadded base64url segments (RFC 7515 §7.1), matched in C before any decoding.
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", re.ASCII)


def _segment(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _json_object(segment: str) -> dict[str, Any]:
    value = _json.decode(_segment(segment).decode())
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


@lru_cache(maxsize=64)
def _header(segment: str) -> Mapping[str, Any]:
    """A token's JOSE header, parsed once per distinct segment: every token signed by one key
    carries one of two (one per ``typ``), so nearly every lookup is a hit. Read-only, since it
    is shared; bounded, since segments come from clients. A malformed one raises each time."""
    return MappingProxyType(_json_object(segment))


@cache
def _algorithm(name: str) -> Any:
    return jwt.get_algorithm_by_name(name)


@dataclass(frozen=True)
class SessionContext:
    """What every token of a session carries about its device key and the user's last
    authentication; refresh and slide copy it unchanged. The defaults mean "not bound" and
    "not known" (a token issued before these claims existed)."""

    jkt: str = ""  # RFC 7638 thumbprint of the DPoP key; claim cnf: {"jkt": ...}
    auth_time: int | None = None  # unix time of the last login or re-authentication
    acr: str = ""  # authentication context class reference
    amr: tuple[str, ...] = ()  # authentication methods, e.g. ("pwd",)

    @property
    def bound(self) -> bool:
        return bool(self.jkt)

    def as_claims(self) -> dict[str, Any]:
        """The claims to write: only those that are set."""
        claims: dict[str, Any] = {}
        if self.jkt:
            claims["cnf"] = {"jkt": self.jkt}
        if self.auth_time is not None:
            claims["auth_time"] = self.auth_time
        if self.acr:
            claims["acr"] = self.acr
        if self.amr:
            claims["amr"] = list(self.amr)
        return claims


NO_CONTEXT = SessionContext()
CONTEXT_CLAIMS = frozenset({"cnf", "auth_time", "acr", "amr"})


def _context(payload: dict[str, Any]) -> SessionContext:
    """The ``SessionContext`` of a verified payload; ``ValueError`` if a claim of it is not of
    the shape we write (so a malformed one is ``token_invalid``, never a 500)."""
    if CONTEXT_CLAIMS.isdisjoint(payload):
        return NO_CONTEXT
    jkt = ""
    if "cnf" in payload:
        cnf = payload["cnf"]
        if not isinstance(cnf, dict) or not isinstance(cnf.get("jkt"), str) or not cnf["jkt"]:
            raise ValueError("cnf is not {\"jkt\": <thumbprint>}")
        jkt = cnf["jkt"]
    auth_time = payload.get("auth_time")
    if auth_time is not None and (not isinstance(auth_time, int) or isinstance(auth_time, bool)):
        raise ValueError("auth_time is not an integer")
    acr = payload.get("acr", "")
    amr = payload.get("amr", [])
    if not isinstance(acr, str) or not isinstance(amr, list) or not all(
            isinstance(method, str) for method in amr):
        raise ValueError("acr is not a string or amr not a list of strings")
    return SessionContext(jkt=jkt, auth_time=auth_time, acr=acr, amr=tuple(amr))


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
    context: SessionContext = NO_CONTEXT

    def __getitem__(self, name: str) -> Any:
        if name in self.custom:
            return self.custom[name]
        if name in CONTEXT_CLAIMS:
            return self.context.as_claims()[name]
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
    context: SessionContext = NO_CONTEXT


def derived_jti(sid: str, generation: int, kind: str) -> str:
    digest = hashlib.sha256(f"{sid}:{generation}:{kind}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def _registered_claims() -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if doubletoken_settings.ISSUER:
        claims["iss"] = doubletoken_settings.ISSUER
    if doubletoken_settings.AUDIENCE:
        claims["aud"] = doubletoken_settings.AUDIENCE
    return claims


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


# The payload JSON exactly as PyJWT's encode writes it (json.dumps with these separators,
# claims in insertion order), from one encoder instead of a new one per call.
_payload_json = json.JSONEncoder(separators=(",", ":"))


@lru_cache(maxsize=32)
def _header_segment(algorithm: str, kid: str, typ: str) -> bytes:
    """The encoded JOSE header and its dot, as PyJWT's encode writes it (sorted keys, compact
    JSON). Keyed by value, so a new key or algorithm can never meet a stale header."""
    header = {"typ": typ, "alg": algorithm, "kid": kid}
    return _b64(json.dumps(header, separators=(",", ":"), sort_keys=True).encode()) + b"."


def _encode(payload: dict[str, Any], typ: str) -> str:
    """A compact JWS, byte for byte what ``jwt.encode(payload, key, algorithm, headers={"typ":
    typ, "kid": kid})`` returns.

    PyJWT's ``encode`` would prepare the ring's (already prepared) key again and serialise the
    same header each time; this signs with PyJWT's own algorithm object and the ring's key.
    """
    if not isinstance(payload.get("iss", ""), str):
        raise TypeError("Issuer (iss) must be a string.")  # as PyJWT refuses it
    ring = key_ring()
    algorithm = _algorithm(ring.algorithm)
    _warn_if_short(algorithm, ring.signing_key)
    signing_input = (_header_segment(ring.algorithm, ring.signing_kid, typ)
                     + _b64(_payload_json.encode(payload).encode()))
    signature = algorithm.sign(signing_input, ring.signing_key)
    return (signing_input + b"." + _b64(signature)).decode()


def _warn_if_short(algorithm: Any, key: Any) -> None:
    """PyJWT's InsecureKeyLengthWarning for a key below its algorithm's minimum (RFC 7518
    §3.2), as its ``encode`` warns; older PyJWT versions have no such check."""
    check = getattr(algorithm, "check_key_length", None)
    message = check(key) if check is not None else None
    if message:
        warnings.warn(message, getattr(jwt, "InsecureKeyLengthWarning", UserWarning),
                      stacklevel=3)


def encode_access(
    *, sub: str, sid: str, jti: str, iat: int, exp: int, client: str, session_expires: int,
    custom: Mapping[str, Any] | None = None, context: SessionContext = NO_CONTEXT,
) -> str:
    """``custom``: claims already checked by ``claims.checked_claims``. ``ClaimsError`` when
    the token would be longer than MAX_TOKEN_LENGTH (it would be refused on its way back)."""
    payload = dict(custom or {})
    payload.update(_registered_claims())
    payload.update(sub=sub, sid=sid, jti=jti, iat=iat, exp=exp, client=client, sxp=session_expires)
    if context is not NO_CONTEXT:
        payload.update(context.as_claims())
    return check_length(_encode(payload, ACCESS_TYP))


def encode_refresh(
    *, sub: str, sid: str, generation: int, iat: int, exp: int, client: str,
    absolute_expires: int, context: SessionContext = NO_CONTEXT,
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
    if context is not NO_CONTEXT:
        payload.update(context.as_claims())
    return _encode(payload, REFRESH_TYP)


def _verify(raw: str, typ: str) -> dict[str, Any]:
    """The payload of a compact JWS whose header names ``typ``, our algorithm and a known
    ``kid``, and whose signature that key verifies.

    PyJWT's ``decode`` would parse the header a second time, prepare the (already prepared)
    key again and validate every base64 character in Python; this does each step once, with
    PyJWT's own algorithm object doing the cryptography.
    """
    if not _COMPACT.fullmatch(raw):
        raise ValueError("not a compact JWS")
    header_segment, payload_segment, signature_segment = raw.split(".")
    header = _header(header_segment)
    ring = key_ring()
    kid = header.get("kid")
    key = ring.verifying_keys.get(kid) if isinstance(kid, str) else None
    # The algorithm is pinned to the configured one (never "none", never the header's
    # choice among several); "crit" extensions (RFC 7515 §4.1.11) are ones we never issue.
    if (key is None or header.get("typ") != typ or header.get("alg") != ring.algorithm
            or "crit" in header):
        raise ValueError("unexpected header")
    signature = _segment(signature_segment)
    # One encoding per signature: a token cannot be re-spelled into a second valid string.
    if base64.urlsafe_b64encode(signature).rstrip(b"=").decode() != signature_segment:
        raise ValueError("non-canonical signature")
    signing_input = raw[: len(header_segment) + 1 + len(payload_segment)].encode()
    if not _algorithm(ring.algorithm).verify(signing_input, key, signature):
        raise ValueError("bad signature")
    return _json_object(payload_segment)


@derived_from_settings
def _leeway_seconds() -> float:
    return doubletoken_settings.LEEWAY.total_seconds()


def _check_registered_claims(payload: dict[str, Any], expired_code: str) -> None:
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


def _decode(raw: str, typ: str, types: dict[str, type], expired_code: str
            ) -> tuple[dict[str, Any], SessionContext]:
    """A verified payload with every claim in ``types`` present and of that type, and the
    session context it carries."""
    if not isinstance(raw, str) or not raw or len(raw) > doubletoken_settings.MAX_TOKEN_LENGTH:
        raise TokenError(TOKEN_INVALID)
    try:
        payload = _verify(raw, typ)
        _require_types(payload, types)
        _check_registered_claims(payload, expired_code)
        context = _context(payload)
    except (ValueError, TypeError, RecursionError, binascii.Error):
        # Every reason but expiry (signature, alg, nbf, iss, aud, malformed) is one code: the
        # client can only log in again, and the reason is not ours to tell an attacker.
        raise TokenError(TOKEN_INVALID) from None
    return payload, context


def _require_types(payload: dict[str, Any], types: dict[str, type]) -> None:
    for name, kind in types.items():
        value = payload.get(name)
        # bool is an int subclass; a boolean is never a valid timestamp or generation.
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"claim {name} missing or not {kind.__name__}")


@derived_from_settings
def longest_access_seconds() -> float:
    """The longest any access token can be accepted: the longest profile lifetime + LEEWAY."""
    longest = max(p.access_lifetime for p in doubletoken_settings.profiles())
    return (longest + doubletoken_settings.LEEWAY).total_seconds()


_ACCESS_CLAIMS = {"sub": str, "sid": str, "jti": str, "client": str, "iat": int, "exp": int,
                  "sxp": int}
_REFRESH_CLAIMS = {"sub": str, "sid": str, "jti": str, "client": str, "iat": int, "exp": int,
                   "gen": int, "axp": int}


def decode_access(raw: str) -> AccessClaims:
    """Verify an access token; raise ``TokenError`` (401 with a code) otherwise."""
    payload, context = _decode(raw, ACCESS_TYP, _ACCESS_CLAIMS, TOKEN_EXPIRED)
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
        context=context,
    )


def decode_refresh(raw: str) -> RefreshClaims:
    """Verify a refresh token's signature and claims; an expired one means the session ended."""
    payload, context = _decode(raw, REFRESH_TYP, _REFRESH_CLAIMS, SESSION_EXPIRED)
    return RefreshClaims(
        sub=payload["sub"],
        sid=payload["sid"],
        generation=payload["gen"],
        jti=payload["jti"],
        iat=payload["iat"],
        exp=payload["exp"],
        client=payload["client"],
        absolute_expires=payload["axp"],
        context=context,
    )
