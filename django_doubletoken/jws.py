"""The compact JWS (RFC 7515 §7.1) of both tokens, written and verified here once per step.

PyJWT's algorithm objects do the cryptography (signing, verifying the signature); the
serialisation and the header checks (pinned algorithm, ``typ``, known ``kid``, no ``crit``,
canonical base64) are this module's, and a token is byte for byte what ``jwt.encode`` writes.
``tokens`` builds and reads the claims on top of it.
"""

from __future__ import annotations

import base64
import json
import re
import warnings
from collections.abc import Mapping
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any

import jwt

from .keys import key_ring


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


def encode(payload: dict[str, Any], typ: str) -> str:
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


def verify(raw: str, typ: str) -> dict[str, Any]:
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
