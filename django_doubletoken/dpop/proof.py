"""The checks of RFC 9449 §4.3, in order: ``check_proof`` writes nothing; ``verify_proof`` then
creates the replay record."""

from __future__ import annotations

import binascii
import hmac
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..conf import doubletoken_settings
from .errors import refuse
from .jose import access_token_hash, b64decode, json_object, normalize_uri, utf8
from .keys import allowed_algorithms, public_key
from .nonces import nonce_is_current, use_dpop_nonce
from .replay import ReplayEntry, arecord_replay, record_replay, replay_key

OFF, OPTIONAL, REQUIRED = "off", "optional", "required"
MODES = (OFF, OPTIONAL, REQUIRED)

PROOF_TYPE = "dpop+jwt"
# An RSA-4096 proof is about 2.4 KB; anything longer is refused before it is decoded.
MAX_PROOF_LENGTH = 4096
MAX_JTI_LENGTH = 256
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class Proof:
    """A proof that passed every check but the replay record (``replay``), not recorded yet."""

    jkt: str  # the key's RFC 7638 SHA-256 thumbprint: what a session is bound to
    jti: str
    iat: float
    htm: str
    htu: str
    replay: ReplayEntry


def _single_value(values: str | Sequence[str] | None) -> str:
    if values is None:
        raise refuse("the request has no DPoP header")
    if not isinstance(values, str):
        if len(values) != 1:
            raise refuse("the request has more than one DPoP header")
        values = values[0]
        if not isinstance(values, str):
            raise refuse("the proof is not a JWT")
    value = values.strip()
    if "," in value:  # servers join repeated headers with commas; a JWS has none
        raise refuse("the request has more than one DPoP header")
    if len(value) > MAX_PROOF_LENGTH:
        raise refuse("the proof is too long")
    if not value or not value.isascii() or not value.isprintable() or " " in value:
        raise refuse("the proof is not a JWT")
    return value


def _header(segment: str) -> dict[str, Any]:
    try:
        header = json_object(segment)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, binascii.Error; nesting
        raise refuse("the proof's header is not a JSON object") from exc
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() != PROOF_TYPE:
        raise refuse(f'the proof\'s typ is not "{PROOF_TYPE}"')
    if "crit" in header:  # no extension is understood here (RFC 7515 §4.1.11)
        raise refuse("the proof has critical header extensions")
    if not isinstance(header.get("alg"), str) or header["alg"] not in allowed_algorithms():
        raise refuse("the proof's alg is not allowed")
    return header


def _verify_signature(token: str, algorithm: Any, key: Any) -> None:
    signing_input, _, signature = token.rpartition(".")
    try:
        valid = algorithm.verify(signing_input.encode("ascii"), key, b64decode(signature))
    except (ValueError, TypeError, binascii.Error):  # a signature of the wrong shape
        valid = False
    if not valid:
        raise refuse("the proof's signature does not verify with its jwk")


def _claims(segment: str) -> dict[str, Any]:
    try:
        claims = json_object(segment)
    except (ValueError, RecursionError) as exc:
        raise refuse("the proof's payload is not a JSON object") from exc
    for name in ("jti", "htm", "htu"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise refuse(f"the proof has no {name}")
    if len(claims["jti"]) > MAX_JTI_LENGTH:
        raise refuse("the proof's jti is too long")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)) or (
        isinstance(iat, float) and not math.isfinite(iat)
    ):
        raise refuse("the proof has no iat")
    return claims


def _check_target(claims: Mapping[str, Any], method: str, uri: str) -> str:
    if claims["htm"] != method:
        raise refuse("the proof's htm is not this request's method")
    htu = claims["htu"]
    if "?" in htu or "#" in htu:
        raise refuse("the proof's htu has a query or fragment")
    try:
        matches = normalize_uri(htu) == normalize_uri(uri)
    except ValueError as exc:
        raise refuse("the proof's htu is not an absolute URI") from exc
    if not matches:
        raise refuse("the proof's htu is not this request's URL")
    return htu


def _check_age(iat: float, now: float) -> float:
    """Seconds the proof stays acceptable (for the replay record's expiry)."""
    max_age = doubletoken_settings.DPOP_PROOF_MAX_AGE.total_seconds()
    leeway = doubletoken_settings.LEEWAY.total_seconds()
    if iat > now + leeway:
        raise refuse("the proof's iat is in the future")
    if iat < now - max_age:
        raise refuse("the proof is too old")
    # Accepted until iat + max_age; another host whose clock lags by up to LEEWAY still
    # accepts it that much longer, so the record outlives the window by that much too.
    return iat + max_age + leeway - now


def check_proof(
    values: str | Sequence[str] | None,
    *,
    method: str,
    uri: str,
    access_token: str | None = None,
    jkt: str | None = None,
    now: float | None = None,
) -> Proof:
    """Check a request's DPoP proof (RFC 9449 §4.3) except for replay; write nothing.

    ``values``: the request's ``DPoP`` header values (one string, or a list of them);
    ``method`` and ``uri`` the request's (``http.request_uri``, with or without query);
    ``access_token`` the token sent with it, whose hash the proof must carry (``ath``);
    ``jkt`` the thumbprint the session is bound to, which the proof's key must have.
    Raises ``ProofError``: ``invalid_dpop_proof``, or ``use_dpop_nonce`` (with the fresh
    nonce) when ``DPOP_NONCE`` is on and the proof has no current nonce. The caller then
    records ``proof.replay`` (``record_replay`` or ``queue_replay``) before accepting it.
    """
    token = _single_value(values)
    segments = token.split(".")
    if len(segments) != 3:
        raise refuse("the proof is not a signed JWT")
    header = _header(segments[0])
    algorithm = allowed_algorithms()[header["alg"]]
    proof_jkt, key = public_key(header, algorithm)
    _verify_signature(token, algorithm, key)
    claims = _claims(segments[1])
    htu = _check_target(claims, method, uri)
    now = time.time() if now is None else now
    remaining = _check_age(claims["iat"], now)
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(
            utf8(ath), access_token_hash(access_token).encode()
        ):
            raise refuse("the proof's ath is not the hash of this access token")
    if jkt is not None and not hmac.compare_digest(proof_jkt.encode(), jkt.encode()):
        raise refuse("the proof is signed by another key than the token is bound to")
    # Last: a client is asked for a nonce only by a proof that is right otherwise.
    if doubletoken_settings.DPOP_NONCE and not nonce_is_current(claims.get("nonce"), now):
        raise use_dpop_nonce(now)
    replay = ReplayEntry(replay_key(proof_jkt, claims["jti"]), max(1, math.ceil(remaining)))
    return Proof(proof_jkt, claims["jti"], claims["iat"], claims["htm"], htu, replay)


def verify_proof(values: str | Sequence[str] | None, **request: Any) -> Proof:
    """``check_proof`` (the same arguments), then its replay record on its own (one cache
    write)."""
    proof = check_proof(values, **request)
    record_replay(proof.replay)
    return proof


async def averify_proof(values: str | Sequence[str] | None, **request: Any) -> Proof:
    """``verify_proof`` for async code (the same arguments): the record through the async
    cache."""
    proof = check_proof(values, **request)
    await arecord_replay(proof.replay)
    return proof
