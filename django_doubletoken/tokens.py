"""The two JWTs: their claims, written and read with every check (claims present and of
their types, exp / nbf / iat with LEEWAY, iss and aud), over the compact JWS of ``jws`` (its
header checks, PyJWT's algorithms for the cryptography; byte for byte what ``jwt.encode``
would write; both carry the ``kid`` of their signing key, see ``keys``), and the RFC 7519
claims the settings govern (``registered_claims``).

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import jws
from .claims import RESERVED_CLAIMS, check_length
from .conf import derived_from_settings, doubletoken_settings
from .errors import SESSION_EXPIRED, TOKEN_EXPIRED, TOKEN_INVALID, TokenError
from .jws import _header  # noqa: F401 (importable from here as before)
from .keys import key_ring  # noqa: F401
from .registered_claims import check_registered_claims, registered_claims, require_types

ACCESS_TYP = "at+jwt"
REFRESH_TYP = "rt+jwt"


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


def encode_access(
    *, sub: str, sid: str, jti: str, iat: int, exp: int, client: str, session_expires: int,
    custom: Mapping[str, Any] | None = None, context: SessionContext = NO_CONTEXT,
) -> str:
    """``custom``: claims already checked by ``claims.checked_claims``. ``ClaimsError`` when
    the token would be longer than MAX_TOKEN_LENGTH (it would be refused on its way back)."""
    payload = dict(custom or {})
    payload.update(registered_claims())
    payload.update(sub=sub, sid=sid, jti=jti, iat=iat, exp=exp, client=client, sxp=session_expires)
    if context is not NO_CONTEXT:
        payload.update(context.as_claims())
    return check_length(jws.encode(payload, ACCESS_TYP))


def encode_refresh(
    *, sub: str, sid: str, generation: int, iat: int, exp: int, client: str,
    absolute_expires: int, context: SessionContext = NO_CONTEXT,
) -> str:
    payload = registered_claims()
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
    return jws.encode(payload, REFRESH_TYP)


def _decode(raw: str, typ: str, types: dict[str, type], expired_code: str
            ) -> tuple[dict[str, Any], SessionContext]:
    """A verified payload with every claim in ``types`` present and of that type, and the
    session context it carries."""
    if not isinstance(raw, str) or not raw or len(raw) > doubletoken_settings.MAX_TOKEN_LENGTH:
        raise TokenError(TOKEN_INVALID)
    try:
        payload = jws.verify(raw, typ)
        require_types(payload, types)
        check_registered_claims(payload, expired_code)
        context = _context(payload)
    except (ValueError, TypeError, RecursionError, binascii.Error):
        # Every reason but expiry (signature, alg, nbf, iss, aud, malformed) is one code: the
        # client can only log in again, and the reason is not ours to tell an attacker.
        raise TokenError(TOKEN_INVALID) from None
    return payload, context


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
