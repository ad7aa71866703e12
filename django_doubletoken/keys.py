"""Signing and verification keys, prepared once and looked up by ``kid``.

Every token carries the ``kid`` of the key that signed it. Rotation: put the new key in
``SIGNING_KEY`` and move the old one to ``PREVIOUS_VERIFYING_KEYS``; tokens signed by the
old key keep verifying until it is removed from that list. For asymmetric algorithms
(RS*, PS*, ES*, EdDSA) the public keys are published as a JWKS (RFC 7517) so other services
can verify access tokens without sharing a secret; a ``kid`` is the key's RFC 7638 thumbprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import jwt
from django.utils.crypto import salted_hmac

from .conf import derived_from_settings, doubletoken_settings

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})


def algorithm_available(name: Any) -> bool:
    """Whether ``name`` names a signing algorithm PyJWT can use here: a string, not "none",
    and implemented (RSA, EC and EdDSA need ``cryptography``). Every setting that names an
    algorithm is checked with this, before PyJWT's lookup (which a list would crash)."""
    if not isinstance(name, str) or name.lower() == "none":
        return False
    try:
        jwt.get_algorithm_by_name(name)
    except NotImplementedError:
        return False
    return True


# RFC 7638 §3.2: the members that make up each key type's thumbprint.
THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"),
                      "OKP": ("crv", "kty", "x")}


class KeyConfigurationError(ValueError):
    """A key in DOUBLETOKEN cannot be used; the message says which and why."""


@dataclass(frozen=True)
class KeyRing:
    algorithm: str
    signing_kid: str
    signing_key: Any
    verifying_keys: dict[str, Any]
    jwks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def asymmetric(self) -> bool:
        return self.algorithm not in HMAC_ALGORITHMS


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict[str, Any]) -> str:
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def _hmac_kid(secret: str | bytes) -> str:
    material = secret.encode() if isinstance(secret, str) else secret
    # A digest of a digest: names the secret without revealing anything usable about it.
    return "hs-" + _b64(hashlib.sha256(b"django_doubletoken.kid:" + material).digest())[:16]


def _default_secret() -> str:
    return salted_hmac("django_doubletoken.signing", "", algorithm="sha256").hexdigest()


def _public(algorithm: Any, pem: str | bytes, what: str) -> Any:
    try:
        key = algorithm.prepare_key(pem)
    except Exception as exc:  # PyJWT raises several types for unreadable PEMs
        raise KeyConfigurationError(f"{what} is not a usable key: {exc}") from exc
    return key.public_key() if hasattr(key, "private_bytes") else key


def build_key_ring() -> KeyRing:
    name = doubletoken_settings.ALGORITHM
    algorithm = jwt.get_algorithm_by_name(name)
    previous = list(doubletoken_settings.PREVIOUS_VERIFYING_KEYS or ())
    if name in HMAC_ALGORITHMS:
        secret = doubletoken_settings.SIGNING_KEY or _default_secret()
        verifying = {_hmac_kid(s): algorithm.prepare_key(s) for s in [secret, *previous]}
        return KeyRing(name, _hmac_kid(secret), algorithm.prepare_key(secret), verifying)

    if not doubletoken_settings.SIGNING_KEY:
        raise KeyConfigurationError(f"{name} needs SIGNING_KEY (a private key in PEM).")
    try:
        private = algorithm.prepare_key(doubletoken_settings.SIGNING_KEY)
    except Exception as exc:
        raise KeyConfigurationError(f"SIGNING_KEY is not a usable {name} key: {exc}") from exc
    if not hasattr(private, "private_bytes"):
        raise KeyConfigurationError("SIGNING_KEY must be a private key for " + name + ".")
    current = (
        _public(algorithm, doubletoken_settings.VERIFYING_KEY, "VERIFYING_KEY")
        if doubletoken_settings.VERIFYING_KEY
        else private.public_key()
    )
    publics = [current] + [
        _public(algorithm, pem, f"PREVIOUS_VERIFYING_KEYS[{i}]") for i, pem in enumerate(previous)
    ]
    verifying, jwks = {}, []
    for public in publics:
        jwk = algorithm.to_jwk(public, as_dict=True)
        kid = thumbprint(jwk)
        verifying[kid] = public
        jwks.append({**jwk, "kid": kid, "use": "sig", "alg": name})
    return KeyRing(name, jwks[0]["kid"], private, verifying, jwks)


@derived_from_settings
def key_ring() -> KeyRing:
    """The ring for the current settings, built once (settings changes rebuild it)."""
    return build_key_ring()
