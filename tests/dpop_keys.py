"""A DPoP client's key for tests: proofs made with PyJWT and ``cryptography`` directly (the
app's own code makes none), and the headers of a Django test client request carrying one."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

_jtis = itertools.count()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ProofKey:
    """A key pair a client keeps; ``proof()`` signs a DPoP proof with it."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.private = (ed25519.Ed25519PrivateKey.generate() if alg == "EdDSA"
                        else ec.generate_private_key(ec.SECP256R1()))
        self.jwk = jwt.get_algorithm_by_name(alg).to_jwk(self.private.public_key(),
                                                          as_dict=True)
        members = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}[self.jwk["kty"]]
        canonical = json.dumps({m: self.jwk[m] for m in members}, separators=(",", ":"),
                               sort_keys=True)
        self.jkt = b64url(hashlib.sha256(canonical.encode()).digest())  # RFC 7638

    def proof(self, method: str, url: str, *, access: str | None = None,
              nonce: str | None = None, iat: float | None = None, jti: str | None = None,
              header: dict | None = None, **claims) -> str:
        payload = {"jti": jti or f"test-{next(_jtis)}-{time.time_ns()}", "htm": method,
                   "htu": url, "iat": int(time.time() if iat is None else iat)}
        if access is not None:
            payload["ath"] = b64url(hashlib.sha256(access.encode()).digest())
        if nonce is not None:
            payload["nonce"] = nonce
        payload.update(claims)  # given claims win (an attack's own ath, say)
        headers = {"typ": "dpop+jwt", "jwk": self.jwk, **(header or {})}
        return jwt.encode(payload, self.private, algorithm=self.alg, headers=headers)

    def headers(self, method: str, url: str, access: str | None = None, **options) -> dict:
        """META for Django's test client: the proof, and ``Authorization: DPoP`` with
        ``access``. ``url`` is the full URL the client addressed (http://testserver/...)."""
        found = {"HTTP_DPOP": self.proof(method, url, access=access, **options)}
        if access is not None:
            found["HTTP_AUTHORIZATION"] = f"DPoP {access}"
        return found
