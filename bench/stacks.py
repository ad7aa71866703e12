"""In-process helpers (Django set up on the bench project): users and tokens for both stacks.

Tokens are minted through each package's own public API, exactly as its login would: ours with
``services.login`` (a device session row, its cache state, the last-used marker), simplejwt with
``RefreshToken.for_user`` (an OutstandingToken row, since token_blacklist is installed).
"""

from __future__ import annotations

import secrets
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection

PASSWORD = "bench-password"
USERNAME = "bench-user-{:04d}"


def create_users(count: int) -> list:
    model = get_user_model()
    hashed = make_password(PASSWORD)  # the bench project's fast hasher (MD5)
    model.objects.bulk_create(
        model(username=USERNAME.format(i), password=hashed) for i in range(count)
    )
    return list(model.objects.filter(username__startswith="bench-user-").order_by("pk"))


def ours_pairs(users: list, count: int, device: str) -> list:
    """``count`` fresh device sessions, cycling through ``users``."""
    from django_doubletoken import services

    return [services.login(users[i % len(users)], device=device) for i in range(count)]


def simplejwt_refresh_tokens(users: list, count: int) -> list:
    from rest_framework_simplejwt.tokens import RefreshToken

    return [RefreshToken.for_user(users[i % len(users)]) for i in range(count)]


def sliding_tokens(pairs: list, count: int, remaining_seconds: int) -> list[str]:
    """Access tokens of existing sessions whose remaining lifetime is ``remaining_seconds``
    (below SLIDING_THRESHOLD), each with its own jti, so each one is re-issued exactly once.

    Signed with the project's key through the app's own encoder: indistinguishable from a
    token that ``services.login`` issued ``lifetime - remaining`` seconds ago.
    """
    from django_doubletoken import tokens
    from django_doubletoken.conf import doubletoken_settings

    lifetime = int(doubletoken_settings.ACCESS_TOKEN_LIFETIME.total_seconds())
    now = int(time.time())
    exp = now + remaining_seconds
    claims = [tokens.decode_access(pair.access) for pair in pairs]
    return [
        tokens.encode_access(
            sub=c.sub,
            sid=c.sid,
            jti=secrets.token_urlsafe(16),
            iat=exp - lifetime,
            exp=exp,
            client=c.client,
            session_expires=c.session_expires,
        )
        for c in (claims[i % len(claims)] for i in range(count))
    ]


def rotations(session_ids: list[str]) -> int:
    """Sum of refresh generations of these sessions: the rotations they went through."""
    from django.db.models import Sum

    from django_doubletoken.models import DeviceSession

    total = DeviceSession.objects.filter(pk__in=session_ids).aggregate(Sum("refresh_generation"))
    return total["refresh_generation__sum"] or 0


def _tables() -> list:
    """The models of the tables each package writes per login or refresh."""
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    from django_doubletoken.models import DeviceSession

    return [DeviceSession, OutstandingToken, BlacklistedToken]


def row_counts() -> dict[str, int]:
    return {model._meta.db_table: model.objects.count() for model in _tables()}


def table_bytes() -> dict[str, int]:
    """Total on-disk size (heap + indexes + TOAST) of those tables, PostgreSQL only."""
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        sizes = {}
        for model in _tables():
            cursor.execute("SELECT pg_total_relation_size(%s)", [model._meta.db_table])
            sizes[model._meta.db_table] = cursor.fetchone()[0]
        return sizes


def dpop_sessions(users: list, count: int) -> list[tuple]:
    """``count`` sessions of the "dpop" profile, each bound to a key of its own (ES256, as
    browsers make them): ``(pair, private key, public jwk)``. Bound through the login
    service as a login with a proof binds them."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    from django_doubletoken import dpop, services
    from django_doubletoken.tokens import SessionContext

    found = []
    for i in range(count):
        key = ec.generate_private_key(ec.SECP256R1())
        jwk = jwt.get_algorithm_by_name("ES256").to_jwk(key.public_key(), as_dict=True)
        context = SessionContext(jkt=dpop.jwk_thumbprint(jwk))
        pair = services.login(users[i % len(users)], client="dpop", device="bench-dpop",
                              context=context)
        found.append((pair, key, jwk))
    return found


def dpop_items(sessions: list[tuple], count: int, url: str) -> list[str]:
    """``count`` wrk items "<access token> <proof>": a fresh proof (own jti, iat now) of a
    GET of ``url`` for each, cycling through ``sessions``."""
    import jwt

    from django_doubletoken import dpop

    now = int(time.time())
    items = []
    for i in range(count):
        pair, key, jwk = sessions[i % len(sessions)]
        proof = jwt.encode({"jti": secrets.token_urlsafe(12), "htm": "GET", "htu": url,
                            "iat": now, "ath": dpop.access_token_hash(pair.access)},
                           key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": jwk})
        items.append(f"{pair.access} {proof}")
    return items
