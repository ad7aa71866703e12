"""The last-used marker, ``<prefix>:u:{<sid>}``: present while the session's ``last_used_at``
is fresh, so the database is written at most once per ``LAST_USED_UPDATE_INTERVAL``.

``claim_last_used_write`` lets one request per interval write the row; ``mark_used`` sets the
marker after a write; ``marking_used`` overlaps that SET with a block's own round trip (the
refresh's UPDATE).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import BaseCache

from .. import client_side_cache
from ..conf import doubletoken_settings
from . import base
from .base import CACHE_ERRORS, _invalidate_local, _ttl, available
from .keys import used_key
from .raw import _connection, _raw_client


def claim_last_used_write(sid: str) -> bool:
    """True for the one request per interval that should write ``last_used_at``."""
    interval = doubletoken_settings.LAST_USED_UPDATE_INTERVAL.total_seconds()
    with available():
        claimed = base.cache().add(used_key(sid), 1, _ttl(interval))
        _invalidate_local([used_key(sid)])
        return claimed


def mark_used(sid: str) -> None:
    interval = doubletoken_settings.LAST_USED_UPDATE_INTERVAL.total_seconds()
    with available():
        base.cache().set(used_key(sid), 1, _ttl(interval))
        _invalidate_local([used_key(sid)])


@contextmanager
def marking_used(sid: str) -> Iterator[None]:
    """``mark_used`` around a block, overlapped with it: the SET is sent before the block and
    its reply read after, so the block's own round trip (refresh's UPDATE) hides this one.
    A cache that is down still fails before the block (the send, or a retried SET, raises);
    a reply lost after it is retried with an ordinary SET (idempotent). Backends without a
    raw single-node client, and CLIENT_SIDE_CACHE, take ``mark_used`` then the block."""
    backend = base.cache()
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
