"""``Tracker``: one process's view of some Redis keys, kept in memory until Redis says it
changed (``CLIENT TRACKING``), for ``client_side_cache`` (which says when one is used and why
that is safe).

Two connections of its own, made from the backend's pool settings: a *data* connection that
reads keys with tracking on, redirected (RESP2) to a *listener* subscribed to
``__redis__:invalidate``. Invalidations are drained by the reading request itself under the
tracker's lock; any error or reconnect drops every entry; entries are bounded in number and age.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.core.cache import BaseCache

CHANNEL = "__redis__:invalidate"
_ABSENT = object()  # a key Redis told us does not exist (tracked too)

try:
    from django_redis.client import DefaultClient
    from redis import ConnectionPool
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError, RedisError, ResponseError
    from redis.retry import Retry
except ImportError:  # pragma: no cover - django-redis is a dependency
    DefaultClient = ConnectionPool = None  # type: ignore[assignment,misc]


class TrackingUnsupported(Exception):
    """This cache backend or server cannot track keys; the caller falls back."""


class Tracker:
    """One process's tracked view of some Redis keys. Thread-safe (one lock)."""

    def __init__(self, backend: BaseCache, max_entries: int, max_age: float) -> None:
        client = getattr(backend, "client", None)
        if DefaultClient is None or type(client) is not DefaultClient or len(client._server) != 1:
            raise TrackingUnsupported("needs django-redis' DefaultClient on one Redis server")
        pool = client.get_client(write=False).connection_pool
        if type(pool) is not ConnectionPool:
            raise TrackingUnsupported(f"connection pool {type(pool).__name__} is not plain")
        self._connection_class = pool.connection_class
        # No silent reconnects and no health-check PINGs: a reconnected data connection is no
        # longer tracked and a PING would interleave with the listener's messages.
        # RESP2: the listener reads invalidations as Pub/Sub messages, no push handling.
        self._connection_kwargs = {
            **{name: value for name, value in pool.connection_kwargs.items()
               if not name.startswith("maint_notifications")},
            "retry": Retry(NoBackoff(), 0), "health_check_interval": 0, "protocol": 2,
        }
        self._make_key: Callable[[str], str] = client.make_key
        self._decode: Callable[[bytes], Any] = client.decode
        self.max_entries = max_entries
        self.max_age = max_age
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self._data: Any = None
        self._listener: Any = None
        self._connects = 0
        self.client_ids: tuple[int, int] | None = None  # listener, data (tests, debugging)
        self._sockets: tuple[Any, Any] = (None, None)
        self._poll: Any = None

    # --- the request path -----------------------------------------------------------------

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """Like ``cache.get_many``: the found keys' values, from memory where Redis tracks
        them for us, the others with one MGET over the tracked connection."""
        with self._lock:
            # A listener found closed (Redis restarted, CLIENT KILL, idle timeout) costs the
            # local state and one reconnect, not the request: a second failure is the error.
            for attempt in (1, 2):
                try:
                    self._arm()
                    found, missing = self._lookup(keys)
                    if missing:
                        found.update(self._fetch(missing))
                    return found
                except RedisError:
                    self._drop_connections()
                    if attempt == 2:
                        raise
                except TrackingUnsupported as exc:  # the server changed under us
                    raise RedisError(f"key tracking refused: {exc}") from exc
        raise AssertionError("unreachable")

    def get_many_local(self, keys: list[str]) -> dict[str, Any] | None:
        """The values when every key is held in memory (no I/O but draining invalidations
        already received); None when a round trip is needed. Never waits for the lock: on an
        event loop, a thread busy with an MGET must not stall every other request."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._data is None:
                return None
            found, missing = self._lookup(keys)
            return None if missing else found
        except RedisError:
            self._drop_connections()
            return None  # the caller's get_many reconnects, or reports the cache down
        finally:
            self._lock.release()

    def invalidate(self, keys: list[str]) -> None:
        """Drop keys this process has just written, without waiting for Redis to say so."""
        with self._lock:
            for key in keys:
                self._entries.pop(self._make_key(key), None)

    def close(self) -> None:
        with self._lock:
            self._drop_connections()

    def __len__(self) -> int:
        return len(self._entries)

    # --- internals (called with the lock held) --------------------------------------------

    def _lookup(self, keys: list[str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if not self._quiet():
            self._drain()
            # Redis forgets what a closed connection tracked, so a data connection closed by
            # the server (restart, CLIENT KILL, idle timeout) makes every entry unreliable
            # though no invalidation will ever say so. Its end shows up as readable (EOF).
            if self._data.can_read(timeout=0):
                raise ConnectionError("the tracked connection was closed or is out of step")
        oldest = time.monotonic() - self.max_age
        found: dict[str, Any] = {}
        missing: list[tuple[str, str]] = []
        for key in keys:
            raw = self._make_key(key)
            entry = self._entries.get(raw)
            if entry is None or entry[1] < oldest:
                missing.append((key, raw))
                continue
            self._entries.move_to_end(raw)
            if entry[0] is not _ABSENT:
                found[key] = entry[0]
        return found, missing

    def _fetch(self, missing: list[tuple[str, str]]) -> dict[str, Any]:
        fetched_at = time.monotonic()
        values = self._command("MGET", *(raw for _, raw in missing))
        found = {}
        for (key, raw), value in zip(missing, values, strict=True):
            decoded = _ABSENT if value is None else self._decode(value)
            if decoded is not _ABSENT:
                found[key] = decoded
            # Any invalidation for a write after this MGET arrives on the listener later
            # and is drained before this entry is read again.
            self._entries[raw] = (decoded, fetched_at)
            self._entries.move_to_end(raw)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return found

    def _quiet(self) -> bool:
        """Nothing arrived on either connection: one poll of both sockets. Exact, because
        every earlier drain and reply left redis-py's read buffers empty."""
        if (self._listener._sock, self._data._sock) != self._sockets:
            return False  # redis-py replaced a socket: take the slow path, which notices
        return not self._poll.poll(0)

    def _drain(self) -> None:
        listener = self._listener
        while listener.can_read(timeout=0):
            message = listener.read_response()
            if not isinstance(message, list) or len(message) != 3 or message[0] != b"message":
                continue  # the subscribe confirmation
            names = message[2]
            if names is None:  # FLUSHDB / FLUSHALL, or Redis ran out of tracking slots
                self._entries.clear()
                continue
            for name in names:
                self._entries.pop(name.decode(), None)
        if self._connects != 2:
            raise _Reconnected()

    def _command(self, *args: Any) -> Any:
        self._data.send_command(*args)
        response = self._data.read_response()
        if self._connects != 2:
            raise _Reconnected()
        return response

    def _arm(self) -> None:
        """Connect the listener and the tracked data connection, unless both are up."""
        if self._data is not None:
            return
        self._entries.clear()
        self._connects = 0
        listener = self._new_connection()
        data = self._new_connection()
        try:
            listener.send_command("CLIENT", "ID")
            listener_id = listener.read_response()
            listener.send_command("SUBSCRIBE", CHANNEL)
            listener.read_response()
            data.send_command("CLIENT", "ID")
            data_id = data.read_response()
            data.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", listener_id)
            data.read_response()
        except ResponseError as exc:
            listener.disconnect()
            data.disconnect()
            raise TrackingUnsupported(str(exc)) from exc
        except BaseException:
            listener.disconnect()
            data.disconnect()
            raise
        self._listener, self._data = listener, data
        self.client_ids = (listener_id, data_id)
        self._sockets = (listener._sock, data._sock)
        self._poll = select.poll()  # poll, not select: no limit on descriptor numbers
        for sock in self._sockets:
            self._poll.register(sock, select.POLLIN)

    def _new_connection(self) -> Any:
        connection = self._connection_class(**self._connection_kwargs)
        connection.register_connect_callback(self._count_connect)
        connection.connect()
        return connection

    def _count_connect(self, connection: Any) -> None:
        self._connects += 1

    def _drop_connections(self) -> None:
        self._entries.clear()
        for connection in (self._listener, self._data):
            if connection is not None:
                connection.disconnect()
        self._listener = self._data = None


class _Reconnected(RedisError if DefaultClient is not None else Exception):  # type: ignore[misc]
    """A connection was re-established behind our back: its tracking state is gone."""

    def __init__(self) -> None:
        super().__init__("tracking connection was reconnected")

