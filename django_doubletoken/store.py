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

Besides, ``<prefix>:throttle:<scope>:<client>`` holds the login throttle's request history,
DRF's ``SimpleRateThrottle`` history (request times, newest first, kept for the rate's period):
a Redis list written by one script (``THROTTLE_SCRIPT``), which also writes a new session's
keys when the login it counts is let through, so a login is one round trip; a pickled list
through ``cache()`` on backends that run no scripts.

A request's checks read all three in one ``get_many`` (one round trip); a DPoP request's
replay record (``<prefix>:dpop:{<jkt>}:<jti digest>``, ``dpop.replay``) is created in that same
round trip. Connection failures become ``ServiceUnavailable("cache_unavailable")``, a 503
that changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.core.cache import BaseCache, caches

from . import client_side_cache
from .conf import doubletoken_settings
from .errors import CACHE_UNAVAILABLE, THROTTLED, DoubleTokenError, ServiceUnavailable
from .flow import Call, Flow, arun, run

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
try:  # django-valkey raises valkey-py's own errors (not redis-py's) or its own wrapper
    from django_valkey.exceptions import ConnectionInterrupted as ValkeyInterrupted
    from valkey.exceptions import ValkeyClusterException, ValkeyError
except ImportError:
    ValkeyError = ValkeyClusterException = ValkeyInterrupted = RedisError  # type: ignore[misc,assignment]
try:  # raised when no cluster node answers; not a RedisError
    from redis.exceptions import RedisClusterException
except ImportError:  # pragma: no cover
    RedisClusterException = RedisError  # type: ignore[misc,assignment]

CACHE_ERRORS = (RedisError, RedisClusterException, ValkeyError, ValkeyClusterException,
                ConnectionInterrupted, ValkeyInterrupted, OSError)

# Backends whose set_many cannot take a timeout: django-valkey's cluster cache maps
# set_many(mapping, timeout) onto MSET with the timeout taken as the key *version*.
SET_MANY_WITHOUT_TIMEOUT = ("django_valkey.cluster_cache.",)

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


class ThrottleHit(NamedTuple):
    """One request to count against a throttle: its history's key and its rate."""

    key: str
    limit: int  # requests...
    period: int  # ...per this many seconds


class Throttled(DoubleTokenError):
    """Over the throttle's rate: nothing was written; retry in ``wait`` seconds."""

    def __init__(self, wait: float) -> None:
        super().__init__(THROTTLED)
        self.wait = wait


class RequestState(NamedTuple):
    session: SessionState | None  # None: not cached (evicted, flushed); read the database
    successor: Successor | None
    recently_used: bool
    # With a replay record to create: whether its SET NX created it (False: a replayed proof).
    replay_created: bool | None = None


def cache() -> BaseCache:
    return caches[doubletoken_settings.CACHE_ALIAS]


def async_cache() -> BaseCache:
    """The same data as ``cache()``, through a backend with native async methods if one is
    configured (a sync backend runs each async call in a thread)."""
    alias = doubletoken_settings.ASYNC_CACHE_ALIAS
    return caches[alias] if alias else cache()


# Every key of a session carries its id as a {hash tag}, so sharded clients and Redis Cluster
# keep a session's keys together on one node.
def session_key(sid: str) -> str:
    return f"{doubletoken_settings.CACHE_KEY_PREFIX}:s:{{{sid}}}"


def successor_key(sid: str, jti: str) -> str:
    return f"{doubletoken_settings.CACHE_KEY_PREFIX}:j:{{{sid}}}:{jti}"


def used_key(sid: str) -> str:
    return f"{doubletoken_settings.CACHE_KEY_PREFIX}:u:{{{sid}}}"


def throttle_key(scope: str, ident: str) -> str:
    return f"{doubletoken_settings.CACHE_KEY_PREFIX}:throttle:{scope}:{ident}"


@contextmanager
def available() -> Iterator[None]:
    try:
        yield
    except CACHE_ERRORS as exc:
        raise ServiceUnavailable(CACHE_UNAVAILABLE) from exc


def _ttl(seconds: float) -> int:
    return max(1, int(seconds + 0.999))


def _request_state(sid: str, jti: str, found: dict[str, Any],
                   created: bool | None = None) -> RequestState:
    session = found.get(session_key(sid))
    successor = found.get(successor_key(sid, jti))
    return RequestState(
        session=SessionState(*session) if session else None,
        successor=Successor(*successor) if successor else None,
        recently_used=used_key(sid) in found,
        replay_created=created,
    )


def _request_keys(sid: str, jti: str) -> list[str]:
    return [session_key(sid), successor_key(sid, jti), used_key(sid)]


def read_request_state(sid: str, jti: str, replay: Any = None) -> RequestState:
    """The request's state in one round trip. With ``replay`` (a DPoP proof's record,
    ``dpop.ReplayEntry``: ``key``, ``ttl``), its SET NX goes in that round trip: one pipeline
    beside the MGET; with CLIENT_SIDE_CACHE the state comes from memory and the SET NX is the
    only round trip; a backend without a pipeline (sharding) or a cluster takes two calls."""
    keys = _request_keys(sid, jti)
    with available():
        backend = cache()
        tracked = client_side_cache.tracker(backend)
        if replay is not None and tracked is None:
            read = _read_and_record(backend, keys, replay)
            if read is not None:
                return _request_state(sid, jti, *read)
        found = backend.get_many(keys) if tracked is None else tracked.get_many(keys)
        created = None if replay is None else bool(backend.add(replay.key, 1, replay.ttl))
        return _request_state(sid, jti, found, created)


class Offer(NamedTuple):
    """A successor computed before the request's read, stored by it unless one is there."""

    successor: Successor
    ttl: float


def read_request_state_offering(sid: str, jti: str, offer: Offer
                                ) -> tuple[RequestState, bool] | None:
    """``read_request_state`` and ``add_successor`` of ``offer`` in one round trip (a
    pipeline: MGET, SET NX), for a request whose token will be slid: the state with the
    successor stored for ``jti`` (the one already there, or the offer), and whether the offer
    was stored. None where the backend exposes no raw single-node client, or with
    CLIENT_SIDE_CACHE (whose read needs no round trip): then read and add apart."""
    backend = cache()
    with available():
        if client_side_cache.tracker(backend) is not None:
            return None
        codec = _codec(backend)
        if codec is None:
            return None
        client, encode, decode = codec
        keys = _request_keys(sid, jti)
        raw_keys = [backend.make_key(key) for key in keys]
        commands = [("MGET", *raw_keys),
                    ("SET", raw_keys[1], encode(tuple(offer.successor)), "EX", _ttl(offer.ttl),
                     "NX")]
        values, added = _send_together(client, commands)
        found = {key: decode(value) for key, value in zip(keys, values, strict=True)
                 if value is not None}
        if added:
            found[keys[1]] = tuple(offer.successor)
        elif keys[1] not in found:  # another request stored one between the two commands
            stored = _read_from_primary(keys[1])
            if stored is not None:
                found[keys[1]] = stored
        _invalidate_local([keys[1]])
        return _request_state(sid, jti, found), bool(added)


def _send_together(client: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
    """The replies of ``commands``, sent in one write on one connection of the client's
    pool: what a pipeline does, without its bookkeeping (which cost more CPU than the read
    itself). A connection that fails is dropped and the commands go again through a
    pipeline, with the client's retries."""
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        connection = _connection(pool)
        try:
            connection.send_packed_command(connection.pack_commands(commands))
            return [connection.read_response() for _ in commands]
        except CACHE_ERRORS:
            connection.disconnect()
        finally:
            pool.release(connection)
    pipeline = client.pipeline(transaction=False)
    for command in commands:
        pipeline.execute_command(*command)
    return pipeline.execute()


def _connection(pool: Any) -> Any:
    try:  # redis-py 5.3+ deprecates the command's name, which valkey-py still requires
        return pool.get_connection()
    except TypeError:
        return pool.get_connection("SET")


def withdraw_successor(sid: str, jti: str) -> None:
    """Delete a successor stored for ``jti`` that its response did not carry (an error, a
    request that revoked its session), so the old token is not refused after GRACE_PERIOD
    for want of a token its client never got. A concurrent request that did send it is not
    harmed: the successor is a valid token of its own; the old one just slides again."""
    with available():
        cache().delete(successor_key(sid, jti))
        _invalidate_local([successor_key(sid, jti)])


def _codec(backend: BaseCache) -> tuple[Any, Any, Any] | None:
    """The raw single-node client, the backend's value encoder and decoder."""
    client = getattr(backend, "client", None)  # django-redis, django-valkey
    if (client is not None and not isinstance(client, ShardClient)
            and hasattr(client, "get_client") and hasattr(client, "encode")
            and hasattr(client, "decode")):
        raw = client.get_client(write=True)
        return (None if hasattr(raw, "get_node_from_key") else
                (raw, client.encode, client.decode))
    inner = getattr(backend, "_cache", None)  # django.core.cache.backends.redis
    serializer = getattr(inner, "_serializer", None)
    if serializer is not None and hasattr(inner, "get_client"):
        return inner.get_client(write=True), serializer.dumps, serializer.loads
    return None


async def aread_request_state(sid: str, jti: str, replay: Any = None) -> RequestState:
    keys = _request_keys(sid, jti)
    with available():
        backend = cache()
        tracked = client_side_cache.tracker(backend)
        if replay is not None and tracked is None and not doubletoken_settings.ASYNC_CACHE_ALIAS:
            # The same pipeline in the one thread hop the plain read would cost (a natively
            # async cache awaits the read and the record in turn: two round trips).
            read = await sync_to_async(_read_and_record)(backend, keys, replay)
            if read is not None:
                return _request_state(sid, jti, *read)
        if tracked is None:
            found = await _acall("get_many", keys)
        else:
            # From memory without a thread hop; the round trip, when needed, in a thread.
            found = tracked.get_many_local(keys)
            if found is None:
                found = await sync_to_async(tracked.get_many)(keys)
        created = None
        if replay is not None:
            created = bool(await _acall("add", replay.key, 1, replay.ttl))
        return _request_state(sid, jti, found, created)


def _read_and_record(backend: BaseCache, keys: list[str], replay: Any
                     ) -> tuple[dict[str, Any], bool] | None:
    """The MGET of ``keys`` and the replay record's SET NX in one pipeline, or None for a
    backend without one, or a cluster (the record lives on its key's node, by the thumbprint's
    hash tag, not the session's). Stores what ``cache().add(key, 1)`` stores (integers
    unpickled)."""
    writer = _pipeline(backend)
    decode = _decoder(backend)
    if writer is None or decode is None or hasattr(writer[0], "get_node_from_key"):
        return None
    pipeline = writer[0]
    pipeline.mget([backend.make_key(key) for key in keys])
    pipeline.set(backend.make_key(replay.key), 1, nx=True, ex=replay.ttl)
    values, created = pipeline.execute()
    found = {key: decode(value) for key, value in zip(keys, values, strict=True)
             if value is not None}
    return found, bool(created)


def _decoder(backend: BaseCache) -> Any:
    client = getattr(backend, "client", None)  # django-redis, django-valkey
    if client is not None and hasattr(client, "decode"):
        return client.decode
    serializer = getattr(getattr(backend, "_cache", None), "_serializer", None)
    return None if serializer is None else serializer.loads


async def _acall(method: str, *args: Any) -> Any:
    """``a<method>`` of the async cache where the backend implements it natively; otherwise
    the sync method in one thread hop. Django's default async methods would also hop, but
    its ``aget_many`` does it once per key, each a separate GET: three round trips instead of
    one MGET for django-redis. (django-valkey's sync and cluster caches are not BaseCache
    subclasses and have no async methods at all.)"""
    backend = async_cache()
    name = f"a{method}"
    native = getattr(backend, name, None)
    if native is not None and getattr(type(backend), name, None) is not getattr(BaseCache, name):
        return await native(*args)
    plain = getattr(backend, method)
    if iscoroutinefunction(plain):  # django-valkey's AsyncValkeyCache: get_many is async
        return await plain(*args)
    return await sync_to_async(plain)(*args)


def _invalidate_local(keys: list[str]) -> None:
    """This process wrote ``keys``: its tracked copies are stale now, not when Redis says."""
    tracked = client_side_cache.tracker(cache())
    if tracked is not None:
        tracked.invalidate(keys)


def remember_session(sid: str, state: SessionState, ttl: float) -> None:
    """Cache a state read from the database unless something (a revocation) got there first."""
    with available():
        cache().add(session_key(sid), tuple(state), _ttl(ttl))
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
    backend = cache()
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
        writer = None if tracked else _pipeline(backend)
        if writer is None:
            for key, value, seconds in entries:
                backend.set(key, value, seconds)
        else:
            pipeline, encode = writer
            for key, value, seconds in entries:
                pipeline.set(backend.make_key(key), encode(value), ex=seconds)
            pipeline.execute()
        _invalidate_local([key for key, _, _ in entries])


# KEYS[1]: a throttle's history, a list of request times (newest first); KEYS[2..n]: keys
# to SET when the request is let through. ARGV: now, period, limit, then a value and a TTL
# per key of KEYS[2..n]. Returns nil when the request was let through (and counted, and the
# keys set), or the seconds to wait as a string (Lua numbers would come back truncated).
# DRF's SimpleRateThrottle semantics: a refused request is not counted; the wait is until
# the limit-th newest request ages out of the period.
THROTTLE_SCRIPT = """
local history = KEYS[1]
local now, period, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if limit <= 0 then return tostring(period) end
local kind = redis.call('TYPE', history)['ok']
if kind ~= 'list' and kind ~= 'none' then redis.call('DEL', history) end
local times = redis.call('LRANGE', history, 0, limit - 1)
if #times >= limit and tonumber(times[limit]) > now - period then
  return tostring(tonumber(times[limit]) + period - now)
end
redis.call('LPUSH', history, ARGV[1])
redis.call('LTRIM', history, 0, limit - 1)
redis.call('EXPIRE', history, period)
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2 * i], 'EX', ARGV[2 * i + 1])
end
return false
"""
_scripts: dict[type, Any] = {}


def _scriptable(backend: BaseCache, *, together: bool) -> tuple[Any, Any] | None:
    """The raw client to run ``THROTTLE_SCRIPT`` on and the backend's value encoder, or None.
    ``together``: the script is to write a session's keys beside the throttle's, which a
    cluster (keys of other slots) or a sharding client (other servers) cannot take."""
    writer = _raw_client(backend)
    if writer is None:
        return None
    client, encode = writer
    if together and hasattr(client, "get_node_from_key"):
        return None
    return client, encode


def _raw_client(backend: BaseCache) -> tuple[Any, Any] | None:
    client = getattr(backend, "client", None)  # django-redis, django-valkey
    if (client is not None and not isinstance(client, ShardClient)
            and hasattr(client, "get_client") and hasattr(client, "encode")):
        return client.get_client(write=True), client.encode
    inner = getattr(backend, "_cache", None)  # django.core.cache.backends.redis
    serializer = getattr(inner, "_serializer", None)
    if serializer is not None and hasattr(inner, "get_client"):
        return inner.get_client(write=True), serializer.dumps
    return None


def _run_throttle_script(backend: BaseCache, client: Any, encode: Any,
                         throttle: ThrottleHit,
                         entries: list[tuple[str, Any, int]]) -> float | None:
    script = _scripts.get(type(client))
    if script is None:  # registered per client class: redis-py's and valkey-py's differ
        script = _scripts[type(client)] = client.register_script(THROTTLE_SCRIPT)
    keys = [backend.make_key(throttle.key)]
    args: list[Any] = [repr(time.time()), throttle.period, throttle.limit]
    for key, value, seconds in entries:
        keys.append(backend.make_key(key))
        args += [encode(value), seconds]
    wait = script(keys=keys, args=args, client=client)
    if wait is not None:
        return float(wait)
    _invalidate_local([key for key, _, _ in entries])
    return None


def count_request(throttle: ThrottleHit) -> float | None:
    """Count a request against ``throttle`` and return None, or, over its rate, how many
    seconds until the next one would be let through (the request is then not counted)."""
    backend = cache()
    with available():
        scripted = _scriptable(backend, together=False)
        if scripted is not None:
            return _run_throttle_script(backend, *scripted, throttle, [])
        # Backends without scripts: DRF's own read-then-write of a pickled list.
        now, key = time.time(), throttle.key
        history = [t for t in backend.get(key, []) if t > now - throttle.period]
        if len(history) >= throttle.limit:
            if not throttle.limit:
                return float(throttle.period)
            return max(history[throttle.limit - 1] + throttle.period - now, 0.0)
        backend.set(key, [now, *history], throttle.period)
        return None


def _pipeline(backend: BaseCache) -> tuple[Any, Any] | None:
    """A pipeline (no MULTI) to the primary and the backend's value encoder, for backends
    known to expose them: the commands it queues are the backend's own SETs, sent at once."""
    writer = _raw_client(backend)
    if writer is None:
        return None
    client, encode = writer
    return client.pipeline(transaction=False), encode


def mark_revoked(states: dict[str, SessionState], ttl: float) -> None:
    values = {session_key(sid): tuple(s) for sid, s in states.items()}
    backend = cache()
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
    backend = cache()
    client = backend.client.get_client(write=True)
    if not hasattr(client, "get_node_from_key"):
        return [client]
    nodes = {}
    for key in keys:
        node = client.get_node_from_key(backend.make_key(key))
        # valkey-py's name for redis-py's ClusterNode.redis_connection
        nodes[node.name] = getattr(node, "valkey_connection", None) or node.redis_connection
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
    return run(_add_successor_flow(sid, jti, successor, ttl))


async def aadd_successor(sid: str, jti: str, successor: Successor, ttl: float) -> Successor:
    return await arun(_add_successor_flow(sid, jti, successor, ttl))


def _add_successor_flow(sid: str, jti: str, successor: Successor, ttl: float
                        ) -> Flow[Call, Successor]:
    key = successor_key(sid, jti)
    with available():
        added = yield Call(cache().add, _aadd, (key, tuple(successor), _ttl(ttl)))
        _invalidate_local([key])
        if added:
            return successor
        stored = yield Call(_read_from_primary, _aread_from_primary, (key,))
    # The winner's entry can only be gone if it expired in between: then ours stands.
    return Successor(*stored) if stored else successor


async def _aadd(key: str, value: Any, timeout: int) -> bool:
    return await _acall("add", key, value, timeout)


async def _aread_from_primary(key: str) -> Any:
    if doubletoken_settings.ASYNC_CACHE_ALIAS:
        return await _acall("get", key)
    return await sync_to_async(_read_from_primary)(key)


def claim_last_used_write(sid: str) -> bool:
    """True for the one request per interval that should write ``last_used_at``."""
    interval = doubletoken_settings.LAST_USED_UPDATE_INTERVAL.total_seconds()
    with available():
        claimed = cache().add(used_key(sid), 1, _ttl(interval))
        _invalidate_local([used_key(sid)])
        return claimed


def mark_used(sid: str) -> None:
    interval = doubletoken_settings.LAST_USED_UPDATE_INTERVAL.total_seconds()
    with available():
        cache().set(used_key(sid), 1, _ttl(interval))
        _invalidate_local([used_key(sid)])


@contextmanager
def marking_used(sid: str) -> Iterator[None]:
    """``mark_used`` around a block, overlapped with it: the SET is sent before the block and
    its reply read after, so the block's own round trip (refresh's UPDATE) hides this one.
    A cache that is down still fails before the block (the send, or a retried SET, raises);
    a reply lost after it is retried with an ordinary SET (idempotent). Backends without a
    raw single-node client, and CLIENT_SIDE_CACHE, take ``mark_used`` then the block."""
    backend = cache()
    with available():
        sender = None if client_side_cache.tracker(backend) is not None else _sender(backend)
    if sender is None:
        mark_used(sid)
        yield
        return
    pool, connection, command = sender
    try:
        with available():
            try:
                connection.send_command(*command(sid))
            except CACHE_ERRORS:
                connection.disconnect()
                pool.release(connection)
                connection = None
                mark_used(sid)  # with the client's retries; raises if the cache is down
        replied = connection is None
        try:
            yield
        finally:
            if not replied:  # whatever the block did, the reply must leave the connection
                replied = _read_reply(connection)
        if not replied:
            mark_used(sid)
    finally:
        if connection is not None:
            pool.release(connection)


def _read_reply(connection: Any) -> bool:
    try:
        connection.read_response()
        return True
    except CACHE_ERRORS:
        connection.disconnect()
        return False


def _sender(backend: BaseCache) -> tuple[Any, Any, Any] | None:
    """A connection of the raw client's pool and the SET of ``mark_used`` for a sid, for
    single-node clients whose pool hands out connections (redis-py's, valkey-py's)."""
    writer = _raw_client(backend)
    if writer is None:
        return None
    client, encode = writer
    pool = getattr(client, "connection_pool", None)
    if pool is None or hasattr(client, "get_node_from_key"):
        return None
    interval = _ttl(doubletoken_settings.LAST_USED_UPDATE_INTERVAL.total_seconds())
    value = encode(1)
    connection = _connection(pool)

    def command(sid: str) -> tuple[Any, ...]:
        return ("SET", backend.make_key(used_key(sid)), value, "EX", interval)

    return pool, connection, command
