"""Writes of a session's state, ``<prefix>:s:{<sid>}``.

Only revocation (``mark_revoked``) overwrites it, and then waits for REVOCATION_REPLICA_ACKS
replicas; refills from the database (``remember_session``) use ``add``, so a refill racing a
revocation can never put "active" back over "revoked". ``open_session`` writes a new
session's state and last-used marker, counting the login against its throttle in the same
round trip where the backend runs scripts.
"""

from __future__ import annotations

from typing import Any

from .. import client_side_cache
from ..conf import doubletoken_settings
from . import base
from .base import (
    CACHE_ERRORS,
    SET_MANY_WITHOUT_TIMEOUT,
    _invalidate_local,
    _ttl,
    available,
    logger,
)
from .keys import SessionState, session_key, used_key
from .raw import _raw_client, _send_together
from .throttle import Throttled, ThrottleHit, _run_throttle_script, _scriptable, count_request


def remember_session(sid: str, state: SessionState, ttl: float) -> None:
    """Cache a state read from the database unless something (a revocation) got there first."""
    with available():
        base.cache().add(session_key(sid), tuple(state), _ttl(ttl))
        _invalidate_local([session_key(sid)])


def open_session(sid: str, state: SessionState, ttl: float,
                 throttle: ThrottleHit | None = None) -> None:
    """A new session's state and its last-used marker (the row was just written with
    ``last_used_at`` = now), each with its own expiry, and the login counted against
    ``throttle``: one round trip where the backend runs scripts on one node (django-redis,
    django-valkey, Django's RedisCache) and CLIENT_SIDE_CACHE is off, else two.

    Raises ``Throttled`` (nothing written) when the login is over the throttle's rate."""
    interval = doubletoken_settings.LAST_USED_UPDATE_INTERVAL.total_seconds()
    entries = [(session_key(sid), tuple(state), _ttl(ttl)), (used_key(sid), 1, _ttl(interval))]
    backend = base.cache()
    with available():
        # With CLIENT_SIDE_CACHE the backend's own SETs: through a raw pipeline or script, the
        # invalidation of this process's tracked copies was missed in the tests.
        tracked = client_side_cache.tracker(backend) is not None
        scripted = None if tracked or throttle is None else _scriptable(backend, together=True)
        if scripted is not None and throttle is not None:
            wait = _run_throttle_script(backend, *scripted, throttle, entries)
            if wait is not None:
                raise Throttled(wait)
            return
        if throttle is not None:
            wait = count_request(throttle)
            if wait is not None:
                raise Throttled(wait)
        writer = None if tracked else _raw_client(backend)
        if writer is None:
            for key, value, seconds in entries:
                backend.set(key, value, seconds)
        else:
            client, encode = writer
            _send_together(client, [("SET", backend.make_key(key), encode(value), "EX", seconds)
                                    for key, value, seconds in entries])
        _invalidate_local([key for key, _, _ in entries])


def mark_revoked(states: dict[str, SessionState], ttl: float) -> None:
    values = {session_key(sid): tuple(s) for sid, s in states.items()}
    backend = base.cache()
    with available():
        if type(backend).__module__.startswith(SET_MANY_WITHOUT_TIMEOUT):
            for key, value in values.items():
                backend.set(key, value, _ttl(ttl))
        else:
            backend.set_many(values, _ttl(ttl))
        _invalidate_local(list(values))
        _wait_for_replicas(list(values))


def _primaries_holding(keys: list[str]) -> list[Any]:
    """The raw client(s) that took the writes of ``keys``: one per Cluster primary owning
    one of them (a cluster client would send WAIT to every primary and add up the replies)."""
    backend = base.cache()
    client = backend.client.get_client(write=True)
    if not hasattr(client, "get_node_from_key"):
        return [client]
    # The node's own client, made anew where the cluster client dropped it after a
    # connection error (valkey-py's name for redis-py's get_redis_connection).
    connect = getattr(client, "get_valkey_connection", None) or client.get_redis_connection
    nodes = {}
    for key in keys:
        node = client.get_node_from_key(backend.make_key(key))
        nodes[node.name] = connect(node)
    return list(nodes.values())


def _wait_for_replicas(keys: list[str]) -> None:
    """Redis replicates asynchronously: a failover right after a revocation could promote a
    replica that never saw it, and django-redis' replication clients read from replicas.
    WAIT until REVOCATION_REPLICA_ACKS replicas have it. Advisory: the write itself is done,
    so a replica that is slow or gone is logged, not an error."""
    wanted = doubletoken_settings.REVOCATION_REPLICA_ACKS
    if not wanted or not keys:
        return
    timeout_ms = int(doubletoken_settings.REVOCATION_REPLICA_TIMEOUT.total_seconds() * 1000)
    try:
        acknowledged = min(primary.wait(wanted, timeout_ms)
                           for primary in _primaries_holding(keys))
    except CACHE_ERRORS as exc:
        logger.warning("waiting for Redis replicas failed: %s", exc)
        return
    if acknowledged < wanted:
        logger.warning("revocation acknowledged by %d of %d Redis replicas", acknowledged,
                       wanted)
