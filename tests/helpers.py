"""Crafting tokens with PyJWT directly: an encoder independent of the app's own."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid

import jwt
from django.conf import settings

KEY = settings.DOUBLETOKEN["SIGNING_KEY"]
# The app names an HMAC key "hs-" + the first 16 characters of the unpadded base64url SHA-256
# of "django_doubletoken.kid:" + the secret.
KID = "hs-" + base64.urlsafe_b64encode(
    hashlib.sha256(b"django_doubletoken.kid:" + KEY.encode()).digest()
).decode().rstrip("=")[:16]


def craft(payload: dict, *, typ: str = "at+jwt", key: str = KEY, alg: str = "HS256",
          kid: str | None = KID) -> str:
    headers = {"typ": typ} if kid is None else {"typ": typ, "kid": kid}
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def access_claims(pair: dict, **overrides) -> dict:
    """Claims of a genuine-looking access token for the session of a login response."""
    now = int(time.time())
    original = jwt.decode(pair["access"], options={"verify_signature": False})
    claims = {
        "sub": original["sub"],
        "sid": pair["session_id"],
        "jti": uuid.uuid4().hex,
        "iat": now - 60,
        "exp": now + 600,
        "client": "web",
        "sxp": original["sxp"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def access_token(pair: dict, *, remaining: int = 600, **overrides) -> str:
    now = int(time.time())
    lifetime = 900
    return craft(access_claims(pair, iat=now + remaining - lifetime, exp=now + remaining,
                               **overrides))


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}
