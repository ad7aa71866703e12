"""Everything kept in the Django cache, under three kinds of key:

``<prefix>:s:{<sid>}``  session state ``(user pk, revoke reason or "")``, read through from the
                      database. Only revocation overwrites it; refills use ``add``, so a refill
                      racing a revocation can never put "active" back over "revoked".
``<prefix>:j:{<sid>}:<jti>``  an access token that was replaced by the sliding middleware:
                      ``(successor token, issued at)``. Written with ``add`` (first writer wins);
                      the old token is refused once ``GRACE_PERIOD`` has passed since
                      ``issued at``, and the key expires with the old token itself.
``<prefix>:u:{<sid>}``  present while the session's ``last_used_at`` is fresh, so the database
                      is written at most once per ``LAST_USED_UPDATE_INTERVAL``.

Besides, ``<prefix>:throttle:<scope>:<client>`` holds the login throttle's request history
(written by DRF's ``SimpleRateThrottle`` through ``cache()``).

A request's checks read all three in one ``get_many`` (one round trip). Connection failures
become ``ServiceUnavailable("cache_unavailable")``, a 503 that changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from asgiref.sync import sync_to_async
from django.core.cache import BaseCache, caches

from .conf import api_settings
from .errors import CACHE_UNAVAILABLE, ServiceUnavailable

try:
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover - redis is a dependency of django-redis
    RedisError = OSError  # type: ignore[misc,assignment]
try:
    from django_redis.client import ShardClient
    from django_redis.exceptions import ConnectionInterrupted
except ImportError:  # pragma: no cover
    ConnectionInterrupted = OSError  # type: ignore[misc,assignment]
    ShardClient = type("ShardClient", (), {})  # type: ignore[misc,assignment]

CACHE_ERRORS = (RedisError, ConnectionInterrupted, OSError)

logger = logging.getLogger("django_doubletoken")


class SessionState(NamedTuple):
    user: str
    revoke_reason: str  # "" while the session is active

    @property
    def revoked(self) -> bool:
        return bool(self.revoke_reason)


class Successor(NamedTuple):
    token: str
    issued_at: int


class RequestState(NamedTuple):
    session: SessionState | None  # None: not cached (evicted, flushed); read the database
    successor: Successor | None
    recently_used: bool


def cache() -> BaseCache:
    return caches[api_settings.CACHE_ALIAS]


# Every key of a session carries its id as a {hash tag}, so sharded clients and Redis Cluster
# keep a session's keys together on one node.
def session_key(sid: str) -> str:
    return f"{api_settings.CACHE_KEY_PREFIX}:s:{{{sid}}}"


def successor_key(sid: str, jti: str) -> str:
    return f"{api_settings.CACHE_KEY_PREFIX}:j:{{{sid}}}:{jti}"


def used_key(sid: str) -> str:
    return f"{api_settings.CACHE_KEY_PREFIX}:u:{{{sid}}}"


def throttle_key(scope: str, ident: str) -> str:
    return f"{api_settings.CACHE_KEY_PREFIX}:throttle:{scope}:{ident}"


@contextmanager
def available() -> Iterator[None]:
    try:
        yield
    except CACHE_ERRORS as exc:
        raise ServiceUnavailable(CACHE_UNAVAILABLE) from exc


def _ttl(seconds: float) -> int:
    return max(1, int(seconds + 0.999))


def _request_state(sid: str, jti: str, found: dict[str, Any]) -> RequestState:
    session = found.get(session_key(sid))
    successor = found.get(successor_key(sid, jti))
    return RequestState(
        session=SessionState(*session) if session else None,
        successor=Successor(*successor) if successor else None,
        recently_used=used_key(sid) in found,
    )


def _request_keys(sid: str, jti: str) -> list[str]:
    return [session_key(sid), successor_key(sid, jti), used_key(sid)]


def read_request_state(sid: str, jti: str) -> RequestState:
    with available():
        return _request_state(sid, jti, cache().get_many(_request_keys(sid, jti)))


async def aread_request_state(sid: str, jti: str) -> RequestState:
    with available():
        return _request_state(sid, jti, await cache().aget_many(_request_keys(sid, jti)))


def remember_session(sid: str, state: SessionState, ttl: float) -> None:
    """Cache a state read from the database unless something (a revocation) got there first."""
    with available():
        cache().add(session_key(sid), tuple(state), _ttl(ttl))


def mark_revoked(states: dict[str, SessionState], ttl: float) -> None:
    with available():
        cache().set_many({session_key(sid): tuple(s) for sid, s in states.items()}, _ttl(ttl))
        _wait_for_replicas()


def _wait_for_replicas() -> None:
    """Redis replicates asynchronously: a failover right after a revocation could promote a
    replica that never saw it, and django-redis' replication clients read from replicas.
    WAIT until REVOCATION_REPLICA_ACKS replicas have it. Advisory: the write itself is done,
    so a replica that is slow or gone is logged, not an error."""
    wanted = api_settings.REVOCATION_REPLICA_ACKS
    if not wanted:
        return
    timeout_ms = int(api_settings.REVOCATION_REPLICA_TIMEOUT.total_seconds() * 1000)
    try:
        acknowledged = cache().client.get_client(write=True).wait(wanted, timeout_ms)
    except CACHE_ERRORS as exc:
        logger.warning("waiting for Redis replicas failed: %s", exc)
        return
    if acknowledged < wanted:
        logger.warning("revocation acknowledged by %d of %d Redis replicas", acknowledged,
                       wanted)


def _read_from_primary(key: str) -> Any:
    """Read back what ``add`` just refused to overwrite. With a replicated django-redis
    client a plain get may hit a replica that has not seen the winner's write yet."""
    backend = cache()
    client = getattr(backend, "client", None)
    if isinstance(client, ShardClient) or not hasattr(client, "get_client"):
        return backend.get(key)  # a shard has no replicas to lag behind
    return backend.get(key, client=client.get_client(write=True))


def add_successor(sid: str, jti: str, successor: Successor, ttl: float) -> Successor:
    """Store ``successor`` for ``jti`` unless one is there; return whichever is stored."""
    key = successor_key(sid, jti)
    with available():
        if cache().add(key, tuple(successor), _ttl(ttl)):
            return successor
        stored = _read_from_primary(key)
    # The winner's entry can only be gone if it expired in between: then ours stands.
    return Successor(*stored) if stored else successor


async def aadd_successor(sid: str, jti: str, successor: Successor, ttl: float) -> Successor:
    key = successor_key(sid, jti)
    with available():
        if await cache().aadd(key, tuple(successor), _ttl(ttl)):
            return successor
        stored = await sync_to_async(_read_from_primary)(key)
    return Successor(*stored) if stored else successor


def claim_last_used_write(sid: str) -> bool:
    """True for the one request per interval that should write ``last_used_at``."""
    interval = api_settings.LAST_USED_UPDATE_INTERVAL.total_seconds()
    with available():
        return cache().add(used_key(sid), 1, _ttl(interval))


def mark_used(sid: str) -> None:
    interval = api_settings.LAST_USED_UPDATE_INTERVAL.total_seconds()
    with available():
        cache().set(used_key(sid), 1, _ttl(interval))
