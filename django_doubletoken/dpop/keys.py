"""Proof keys: the algorithms a proof may use, its ``jwk`` header checked and imported once
per thumbprint (a bounded LRU), and the challenge that names the algorithms."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import jwt

from ..conf import derived_from_settings, doubletoken_settings
from .errors import refuse
from .jose import jwk_thumbprint

MIN_RSA_BITS = 2048
# Imported public keys kept per process, by thumbprint (one per active device).
KEY_CACHE_SIZE = 4096

# The asymmetric algorithms a proof may use, with the key type (and curves) each needs.
# HMAC and "none" are absent on purpose: a proof must be verifiable from its own header.
ALGORITHM_KEYS: dict[str, tuple[str, frozenset[str]]] = {
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    # RFC 9864's fully-specified names for EdDSA (what WebCrypto-based clients now send).
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
    "Ed448": ("OKP", frozenset({"Ed448"})),
    **{name: ("RSA", frozenset()) for name in (
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
}
PYJWT_NAMES = {"Ed25519": "EdDSA", "Ed448": "EdDSA"}
# Members that only a private (or symmetric) JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class KeyCache:
    """A bounded LRU of imported public keys by thumbprint. ``imports`` counts the keys
    actually built from a JWK (what the cache saves)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.imports = 0
        self._keys: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, jkt: str, jwk: Mapping[str, Any], algorithm: Any) -> Any:
        with self._lock:
            key = self._keys.get(jkt)
            if key is not None:
                self._keys.move_to_end(jkt)
                return key
        key = algorithm.from_jwk(dict(jwk))
        with self._lock:
            self.imports += 1
            self._keys[jkt] = key
            while len(self._keys) > self.size:
                self._keys.popitem(last=False)
        return key

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()
            self.imports = 0

    def __len__(self) -> int:
        return len(self._keys)


key_cache = KeyCache(KEY_CACHE_SIZE)


def pyjwt_algorithm(name: str) -> Any:
    """PyJWT's algorithm object for a proof's ``alg``; ``NotImplementedError`` when PyJWT
    cannot verify it here (no ``cryptography``)."""
    return jwt.get_algorithm_by_name(PYJWT_NAMES.get(name, name))


@derived_from_settings
def allowed_algorithms() -> dict[str, Any]:
    """PyJWT's algorithm object for each name in ``DPOP_ALGORITHMS`` (never HMAC or none:
    only names of ``ALGORITHM_KEYS`` count)."""
    found = {}
    for name in doubletoken_settings.DPOP_ALGORITHMS:
        if name in ALGORITHM_KEYS:
            try:
                found[name] = pyjwt_algorithm(name)
            except NotImplementedError:  # without the cryptography package
                continue
    return found


def public_key(header: Mapping[str, Any], algorithm: Any) -> tuple[str, Any]:
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise refuse("the jwk header is missing")
    if PRIVATE_MEMBERS & set(jwk):
        raise refuse("the jwk header holds private key material")
    kty, curves = ALGORITHM_KEYS[header["alg"]]
    crv = jwk.get("crv")
    if jwk.get("kty") != kty or (curves and not (isinstance(crv, str) and crv in curves)):
        raise refuse(f"the jwk is not a {' or '.join(sorted(curves)) or kty} key for "
                      f"{header['alg']}")
    try:
        jkt = jwk_thumbprint(jwk)
        key = key_cache.get(jkt, jwk, algorithm)
    except Exception as exc:  # PyJWT and cryptography raise several types for bad keys
        raise refuse("the jwk is not a usable public key") from exc
    if kty == "RSA" and key.key_size < MIN_RSA_BITS:
        raise refuse(f"RSA keys need at least {MIN_RSA_BITS} bits")
    return jkt, key


def challenge_scheme() -> str:
    """The DPoP challenge without its error (RFC 9449 §7.1): what a face passes as the scheme
    to ``api_errors.challenge``, which adds ``error=`` from the table."""
    return f'DPoP algs="{" ".join(allowed_algorithms())}"'
