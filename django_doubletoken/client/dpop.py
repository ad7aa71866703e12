"""The client's DPoP key (RFC 9449): the key pair a session is bound to, the proofs it signs,
and the nonces servers ask it to put in them.

A ``DPoPKey`` wraps a ``cryptography`` private key that never leaves the process: only its
public half travels, in each proof's ``jwk`` header. Proofs are JWTs signed with PyJWT
(``typ: dpop+jwt``; ``htm`` and ``htu`` name the request, ``iat`` and a random ``jti`` make
it fresh and unique, ``ath`` ties it to the access token sent with it, ``nonce`` is the
server's latest ``DPoP-Nonce``). Nonces are remembered per origin, as a server issues them.

Needs ``cryptography`` (``pip install django-doubletoken[crypto]``), imported only when a key is
made, so the rest of the client works without it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Generator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from jwt.algorithms import get_default_algorithms

from ..errors import USE_DPOP_NONCE
from .tokens import code_of

PROOF_TYPE = "dpop+jwt"
NONCE_HEADER = "DPoP-Nonce"
DEFAULT_PORTS = {"http": 80, "https": 443}
# The members of each key type's public JWK (and, sorted, of its RFC 7638 thumbprint).
PUBLIC_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"),
                  "RSA": ("e", "kty", "n")}
# The algorithm a key of each type signs with unless told otherwise (RSA may also use PS*).
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def access_token_hash(token: str) -> str:
    """``ath`` (RFC 9449 §4.2): base64url of the SHA-256 of the access token."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def thumbprint(jwk: dict[str, str]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK: what a bound session's ``cnf.jkt``
    holds."""
    members = {name: jwk[name] for name in PUBLIC_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def target_uri(url: str) -> str:
    """``htu``: the request's URL without query and fragment (RFC 9449 §4.2)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def origin_of(url: str) -> str:
    """Whose nonce a request needs: scheme, host and port (the default one left out)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port if parts.port not in (None, DEFAULT_PORTS.get(scheme)) else None
    return f"{scheme}://{parts.hostname or ''}" + (f":{port}" if port else "")


class DPoPKey:
    """A DPoP key pair, the proofs it signs and the nonces it was given.

    ``DPoPKey()`` generates an EC P-256 key (ES256). ``DPoPKey(private_key)`` uses yours, a
    ``cryptography`` private key: EC (ES256 / ES384 / ES512 by its curve), Ed25519 / Ed448
    (EdDSA) or RSA of 2048 bits or more (``algorithm="RS256"`` by default, or ``"PS256"``...),
    whichever the server's ``DPOP_ALGORITHMS`` allows. ``private_key`` is the key to persist
    (``private_bytes``) for a session that outlives the process: its tokens are bound to it.
    Thread-safe.
    """

    def __init__(self, private_key: Any = None, *, algorithm: str | None = None) -> None:
        if private_key is None:
            try:
                from cryptography.hazmat.primitives.asymmetric import ec
            except ImportError as exc:  # an optional dependency of the app
                raise ImportError("a DPoP key needs cryptography: "
                                  "pip install django-doubletoken[crypto]") from exc
            private_key = ec.generate_private_key(ec.SECP256R1())
        self.private_key = private_key
        self.algorithm, self.public_jwk = _describe(private_key, algorithm)
        self.thumbprint = thumbprint(self.public_jwk)
        self._nonces: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DPoPKey({self.algorithm}, jkt={self.thumbprint!r})"

    def proof(self, method: str, url: str, *, access_token: str | None = None,
              now: float | None = None) -> str:
        """A fresh proof for one request: ``method`` and ``url`` are the request's (the query
        and fragment are left out of ``htu``); with ``access_token``, its hash (``ath``); the
        origin's remembered nonce, if any."""
        claims: dict[str, Any] = {
            "htm": method.upper(),
            "htu": target_uri(url),
            "iat": int(time.time() if now is None else now),
            "jti": uuid.uuid4().hex,
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        nonce = self.nonce_for(url)
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm,
                          headers={"typ": PROOF_TYPE, "jwk": self.public_jwk})

    def nonce_for(self, url: str) -> str | None:
        with self._lock:
            return self._nonces.get(origin_of(url))

    def remember_nonce(self, url: str, nonce: str) -> None:
        """Keep the ``DPoP-Nonce`` a response from ``url`` carried, for the origin's next
        proofs."""
        with self._lock:
            self._nonces[origin_of(url)] = nonce


# A POST to a token endpoint: yields (url, JSON payload, headers), receives (status, decoded
# body, response headers); returns (status, body).
TokenCall = Generator[tuple[str, dict, dict], tuple[int, Any, Mapping[str, str]], tuple[int, Any]]


def token_call(key: DPoPKey | None, url: str, payload: dict) -> TokenCall:
    """POST ``payload`` to a token endpoint (login, refresh) with a proof made with ``key``
    (none without one). A server that wants its nonce answers ``use_dpop_nonce`` with the nonce
    in ``DPoP-Nonce`` (RFC 9449 §8: a 400 here): the call is then made once more, with it."""
    status, body, headers = yield url, payload, proof_header(key, "POST", url)
    if key is not None and took_nonce(key, url, headers) and code_of(body) == USE_DPOP_NONCE:
        status, body, headers = yield url, payload, proof_header(key, "POST", url)
        took_nonce(key, url, headers)
    return status, body


def proof_header(key: DPoPKey | None, method: str, url: str,
                 access_token: str | None = None) -> dict[str, str]:
    """The ``DPoP`` header of a request (none without a key)."""
    if key is None:
        return {}
    return {"DPoP": key.proof(method, url, access_token=access_token)}


def took_nonce(key: DPoPKey, url: str, headers: Mapping[str, str]) -> bool:
    """Remember the nonce a response from ``url`` carried; whether there was one."""
    nonce = headers.get(NONCE_HEADER)
    if not nonce:
        return False
    key.remember_nonce(url, nonce)
    return True


def as_key(dpop: Any) -> DPoPKey | None:
    """What a ``dpop=`` argument means: None or False (no DPoP), True (a new key), a
    ``DPoPKey``, or a ``cryptography`` private key to wrap."""
    if dpop is None or dpop is False:
        return None
    if dpop is True:
        return DPoPKey()
    if isinstance(dpop, DPoPKey):
        return dpop
    return DPoPKey(dpop)


def _describe(private_key: Any, algorithm: str | None) -> tuple[str, dict[str, str]]:
    """(the algorithm the key signs with, its public JWK)."""
    if not hasattr(private_key, "public_key"):
        raise TypeError(f"a DPoP key must be a cryptography private key, not {private_key!r}")
    public = private_key.public_key()
    if hasattr(public, "curve"):  # EC
        jwk = get_default_algorithms()["ES256"].to_jwk(public, as_dict=True)
        default = EC_ALGORITHMS.get(jwk["crv"])
        allowed = (default,)
    elif hasattr(public, "public_numbers"):  # RSA
        if public.key_size < 2048:
            raise ValueError("a DPoP RSA key needs at least 2048 bits")
        jwk = get_default_algorithms()["RS256"].to_jwk(public, as_dict=True)
        default, allowed = "RS256", RSA_ALGORITHMS
    else:  # Ed25519 / Ed448, or something PyJWT refuses below
        try:
            jwk = get_default_algorithms()["EdDSA"].to_jwk(public, as_dict=True)
        except (jwt.InvalidKeyError, TypeError, ValueError) as exc:
            raise TypeError(f"unsupported DPoP key {private_key!r}") from exc
        default, allowed = "EdDSA", ("EdDSA",)
    chosen = algorithm or default
    if chosen not in allowed:
        raise ValueError(f"a {jwk['kty']} key cannot sign {chosen!r} (only {allowed})")
    # Only the public members: never a private one, and nothing else to get wrong.
    return chosen, {name: jwk[name] for name in PUBLIC_MEMBERS[jwk["kty"]]}
