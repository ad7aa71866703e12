"""Successors, ``<prefix>:j:{<sid>}:<jti>``: the token that replaced a slid access token.

Stored as ``(successor token, issued at)`` with ``add`` (first writer wins), so concurrent
requests carrying the same old token all receive the same new one; the old token is refused
once ``GRACE_PERIOD`` has passed since ``issued at``, and the key expires with the old token
itself. (The slide that stores its successor within the request's read is
``request.read_request_state_offering``.)
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async

from ..conf import doubletoken_settings
from ..flow import Call, Flow, arun, run
from . import base
from .base import _acall, _invalidate_local, _ttl, available
from .keys import Successor, successor_key
from .raw import _read_from_primary


def withdraw_successor(sid: str, jti: str) -> None:
    """Delete a successor stored for ``jti`` that its response did not carry (an error, a
    request that revoked its session), so the old token is not refused after GRACE_PERIOD
    for want of a token its client never got. A concurrent request that did send it is not
    harmed: the successor is a valid token of its own; the old one just slides again."""
    with available():
        base.cache().delete(successor_key(sid, jti))
        _invalidate_local([successor_key(sid, jti)])


def add_successor(sid: str, jti: str, successor: Successor, ttl: float) -> Successor:
    """Store ``successor`` for ``jti`` unless one is there; return whichever is stored."""
    return run(_add_successor_flow(sid, jti, successor, ttl))


async def aadd_successor(sid: str, jti: str, successor: Successor, ttl: float) -> Successor:
    return await arun(_add_successor_flow(sid, jti, successor, ttl))


def _add_successor_flow(sid: str, jti: str, successor: Successor, ttl: float
                        ) -> Flow[Call, Successor]:
    key = successor_key(sid, jti)
    with available():
        added = yield Call(base.cache().add, _aadd, (key, tuple(successor), _ttl(ttl)))
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
