"""Measurements that need no load generator: per-call micro benchmarks, exact Redis and
database accounting per operation, and storage (Redis memory, database rows)."""

from __future__ import annotations

import math
import statistics
import time
import timeit
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import requests
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from infra import RedisServer

# --- micro benchmarks --------------------------------------------------------------------


def time_call(fn: Callable[[], Any], *, repeat: int, min_seconds: float) -> dict[str, float]:
    """Per-call time in µs: ``repeat`` batches of calls, each batch at least ``min_seconds``."""
    fn()  # warm: imports, connections, caches
    timer = timeit.Timer(fn)
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= min_seconds:
            break
        number *= 2 if elapsed <= 0 else max(2, min(10, int(min_seconds / elapsed) + 1))
    per_call = [t / number * 1e6 for t in timer.repeat(repeat, number)]
    return {
        "median_us": round(statistics.median(per_call), 1),
        "min_us": round(min(per_call), 1),
        "calls_per_batch": number,
    }


def micro(
    ours_access: str, simplejwt_access: str, redis_server: RedisServer, quick: bool
) -> dict[str, Any]:
    """authenticate() of both packages next to its floor (a bare PyJWT decode, a Redis GET)
    and to what simplejwt pays per request (an ORM SELECT of the user)."""
    import jwt
    import redis
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import RequestFactory
    from rest_framework.request import Request
    from rest_framework_simplejwt.authentication import (
        JWTAuthentication,
        JWTStatelessUserAuthentication,
    )
    from rest_framework_simplejwt.settings import api_settings as simplejwt_settings

    from django_doubletoken.authentication import DoubleTokenAuthentication
    from django_doubletoken.conf import doubletoken_settings
    from django_doubletoken.http import GRANT_ATTRIBUTE

    repeat, min_seconds = (3, 0.02) if quick else (7, 0.2)

    def drf_request(token: str) -> Request:
        return Request(RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}"))

    ours_request, simplejwt_request = drf_request(ours_access), drf_request(simplejwt_access)
    ours_auth = DoubleTokenAuthentication()
    raw_redis = redis.Redis.from_url(redis_server.url)
    raw_redis.set("bench:floor", b"x" * 64)
    cache.set("bench:floor", ("x" * 36, ""))
    user_pk = get_user_model().objects.values_list("pk", flat=True).first()

    def ours_authenticate() -> Any:
        # authenticate() keeps its grant on the request for the rest of that request (the
        # sliding middleware reuses it): forgotten, so every call verifies the token again.
        ours_request._request.__dict__.pop(GRANT_ATTRIBUTE, None)
        return ours_auth.authenticate(ours_request)

    ours_stateless = ours_authenticate

    cases: dict[str, Callable[[], Any]] = {
        "pyjwt_decode_hs256": lambda: jwt.decode(
            simplejwt_access, simplejwt_settings.SIGNING_KEY, algorithms=["HS256"]
        ),
        "redis_get_redis_py": lambda: raw_redis.get("bench:floor"),
        "redis_get_django_redis": lambda: cache.get("bench:floor"),
        "orm_user_select": lambda: get_user_model().objects.get(pk=user_pk),
        "ours_authenticate": ours_authenticate,
        "simplejwt_authenticate": lambda: JWTAuthentication().authenticate(simplejwt_request),
        "simplejwt_stateless_authenticate": lambda: JWTStatelessUserAuthentication().authenticate(
            simplejwt_request
        ),
    }
    results = {name: time_call(fn, repeat=repeat, min_seconds=min_seconds)
               for name, fn in cases.items()}
    stateless = {**doubletoken_settings.user_settings, "REVOCATION_CHECK": False}
    with override_settings(DOUBLETOKEN=stateless):
        results["ours_authenticate_stateless"] = time_call(
            ours_stateless, repeat=repeat, min_seconds=min_seconds
        )
    cached = {**doubletoken_settings.user_settings, "CLIENT_SIDE_CACHE": True}
    with override_settings(DOUBLETOKEN=cached):
        results["ours_authenticate_client_side_cache"] = time_call(
            ours_authenticate, repeat=repeat, min_seconds=min_seconds
        )
    raw_redis.close()
    return results


def db_queries_per_operation(users: list) -> dict[str, dict[str, int]]:
    """Database statements of one login, refresh and authenticate, per package (in-process)."""
    from django.contrib.auth import authenticate
    from django.test import RequestFactory
    from rest_framework.request import Request
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.serializers import (
        TokenObtainPairSerializer,
        TokenRefreshSerializer,
    )
    from stacks import PASSWORD

    from django_doubletoken import services
    from django_doubletoken.authentication import DoubleTokenAuthentication

    user = users[0]

    def count(fn: Callable[[], Any]) -> dict[str, int]:
        with CaptureQueriesContext(connection) as captured:
            fn()
        sqls = [q["sql"] for q in captured.captured_queries]
        # Transaction control is logged on SQLite but not on PostgreSQL: count neither.
        sqls = [sql for sql in sqls if sql.split(None, 1)[0].upper()
                not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")]
        kinds = [sql.split(None, 1)[0].upper() for sql in sqls]
        # A data-modifying WITH (ours' login: INSERT + UPDATE) counts as a write.
        writes = sum(any(word in sql.upper().split() for word in ("INSERT", "UPDATE", "DELETE"))
                     for sql in sqls)
        return {"statements": len(kinds), "writes": writes, "kinds": kinds}

    def ours_login() -> Any:
        return services.login(authenticate(username=user.username, password=PASSWORD))

    def simplejwt_login() -> Any:
        serializer = TokenObtainPairSerializer(
            data={"username": user.username, "password": PASSWORD}
        )
        assert serializer.is_valid(), serializer.errors
        return serializer.validated_data

    ours_pair = services.login(user)
    simplejwt_pair = simplejwt_login()

    def ours_refresh() -> Any:
        return services.refresh(ours_pair.refresh)

    def simplejwt_refresh() -> Any:
        serializer = TokenRefreshSerializer(data={"refresh": simplejwt_pair["refresh"]})
        assert serializer.is_valid(), serializer.errors

    def drf_request(token: str) -> Request:
        return Request(RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}"))

    return {
        "ours_login": count(ours_login),
        "simplejwt_login": count(simplejwt_login),
        "ours_refresh": count(ours_refresh),
        "simplejwt_refresh": count(simplejwt_refresh),
        "ours_authenticate": count(
            lambda: DoubleTokenAuthentication().authenticate(drf_request(ours_pair.access))
        ),
        "simplejwt_authenticate": count(
            lambda: JWTAuthentication().authenticate(drf_request(simplejwt_pair["access"]))
        ),
    }


# --- exact Redis accounting per request --------------------------------------------------


class RedisMeter:
    """Redis commands and bytes caused by a block of requests (INFO commandstats, INFO stats).

    The few bytes of our own CONFIG RESETSTAT / INFO exchange are measured once with no
    traffic and subtracted.
    """

    def __init__(self, redis_server: RedisServer) -> None:
        self.redis = redis_server
        self.redis.reset_stats()
        self.baseline = self.redis.net_bytes()

    def measure(self, run: Callable[[], int]) -> dict[str, Any]:
        self.redis.reset_stats()
        count = run()
        received, sent = self.redis.net_bytes()
        commands = self.redis.command_stats()
        total = sum(commands.values())
        return {
            "requests": count,
            "commands_per_request": round(total / count, 3),
            "commands": {name: round(calls / count, 3) for name, calls in commands.items()},
            "bytes_to_redis_per_request": round((received - self.baseline[0]) / count, 1),
            "bytes_from_redis_per_request": round((sent - self.baseline[1]) / count, 1),
        }


def accounting(
    base_url: str,
    redis_server: RedisServer,
    *,
    access_tokens: list[str],
    sliding: list[str],
    refresh_tokens: list[str],
    usernames: list[str],
    stale_sessions: list[tuple[str, str]],
) -> dict[str, Any]:
    """One request at a time against our gunicorn, each kind measured on its own."""
    from django.core.cache import cache
    from stacks import PASSWORD

    from django_doubletoken import store

    http = requests.Session()
    meter = RedisMeter(redis_server)

    def gets(tokens: list[str], expect_slide: bool | None) -> Callable[[], int]:
        def run() -> int:
            for token in tokens:
                headers = {"Authorization": f"Bearer {token}"}
                answer = http.get(f"{base_url}/ours/me/", headers=headers)
                assert answer.status_code == 200, answer.text
                if expect_slide is not None:
                    assert ("NEW_HTTP_AUTHORIZATION" in answer.headers) == expect_slide
            return len(tokens)

        return run

    def posts(path: str, bodies: list[dict]) -> Callable[[], int]:
        def run() -> int:
            for body in bodies:
                answer = http.post(f"{base_url}{path}", json=body)
                assert answer.status_code == 200, answer.text
            return len(bodies)

        return run

    results = {
        "get_outside_window": meter.measure(gets(access_tokens, expect_slide=False)),
        "get_inside_window_reissue": meter.measure(gets(sliding, expect_slide=True)),
        "get_inside_window_reuse": meter.measure(gets(sliding, expect_slide=True)),
        "login": meter.measure(
            posts("/ours/auth/login/", [{"username": u, "password": PASSWORD} for u in usernames])
        ),
        "refresh": meter.measure(
            posts("/ours/auth/refresh/", [{"refresh": t} for t in refresh_tokens])
        ),
    }
    # The request that finds its session's last-used marker gone (once per session per
    # LAST_USED_UPDATE_INTERVAL): the marker is claimed (SET NX) and the row updated.
    cache.delete_many([store.used_key(sid) for sid, _ in stale_sessions])
    results["get_last_used_due"] = meter.measure(
        gets([token for _, token in stale_sessions], expect_slide=False)
    )
    http.close()
    return results


# --- storage -----------------------------------------------------------------------------


def memory_usage(redis_server: RedisServer, keys: list[str]) -> float:
    """Mean MEMORY USAGE (bytes, exact: SAMPLES 0) of these Redis keys."""
    sizes = [redis_server.client.memory_usage(key, samples=0) for key in keys]
    sizes = [size for size in sizes if size is not None]
    if not sizes:
        raise RuntimeError("none of the keys to measure is in Redis")
    return round(statistics.mean(sizes), 1)


def redis_storage(
    redis_server: RedisServer, users: list, session_count: int, slid: list[tuple[str, str]]
) -> dict[str, Any]:
    """Redis bytes per active session, per slid (denylisted) token, per revoked session."""
    from django.core.cache import cache
    from stacks import ours_pairs

    from django_doubletoken import services, store
    from django_doubletoken.models import RevokeReason

    def full_key(key: str) -> str:
        return cache.make_key(key)

    info = redis_server.client.info("memory")
    before = info["used_memory"]
    pairs = ours_pairs(users, session_count, device="bench-storage")
    after = redis_server.client.info("memory")["used_memory"]
    sids = [pair.session_id for pair in pairs]
    state = memory_usage(redis_server, [full_key(store.session_key(s)) for s in sids])
    marker = memory_usage(redis_server, [full_key(store.used_key(s)) for s in sids])
    revoked = sids[: max(1, session_count // 10)]
    for sid in revoked:
        services.revoke_session(sid, RevokeReason.LOGOUT)
    return {
        "sessions_measured": session_count,
        "active_session_bytes": {
            "session_state_key": state,
            "last_used_marker_key": marker,
            "total_memory_usage": round(state + marker, 1),
            "used_memory_delta_per_session": round((after - before) / session_count, 1),
        },
        "denylisted_token_bytes": memory_usage(
            redis_server, [full_key(store.successor_key(sid, jti)) for sid, jti in slid]
        ),
        "revoked_session_state_bytes": memory_usage(
            redis_server, [full_key(store.session_key(s)) for s in revoked]
        ),
    }


def last_used_writes(access_token: str, seconds: float) -> dict[str, Any]:
    """Database writes of one continuously used session, with a 1 s last-used interval.

    Requests every 10 ms for ``seconds``: the writes counted should be about one per interval,
    which at the default 5 min interval is 12 per session per hour.
    """
    from django.core.cache import cache

    from django_doubletoken import services, store, tokens
    from django_doubletoken.conf import doubletoken_settings

    # The login set this session's marker for the default interval: start without one.
    cache.delete(store.used_key(tokens.decode_access(access_token).sid))
    interval = timedelta(seconds=1)
    settings = {**doubletoken_settings.user_settings, "LAST_USED_UPDATE_INTERVAL": interval}
    requests_made = 0
    with override_settings(DOUBLETOKEN=settings), CaptureQueriesContext(connection) as captured:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            services.authenticate_access(access_token)
            requests_made += 1
            time.sleep(0.01)
    writes = [q for q in captured.captured_queries if q["sql"].startswith("UPDATE")]
    default = timedelta(minutes=5)
    return {
        "interval_seconds": interval.total_seconds(),
        "seconds": seconds,
        "requests": requests_made,
        "writes": len(writes),
        # A write when the marker is missing at the start, then one each time it expires.
        "writes_expected_at_most": math.ceil(seconds / interval.total_seconds()),
        "writes_per_session_hour_at_default_interval": int(timedelta(hours=1) / default),
    }
