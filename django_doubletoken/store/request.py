"""What a request reads, in one round trip: the hot path.

``read_request_state`` (and ``aread_request_state``) fetch the session state, the token's
successor and the last-used marker in one MGET; a DPoP request's replay record
(``<prefix>:dpop:{<jkt>}:<jti digest>``, ``dpop.replay``) is created by a SET NX in the same
pipeline. ``read_request_state_offering`` adds the slide's successor (SET NX) to that round
trip instead, sent raw on one connection (``raw._send_together``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from asgiref.sync import sync_to_async
from django.core.cache import BaseCache

from .. import client_side_cache
from ..conf import doubletoken_settings
from . import base
from .base import _acall, _invalidate_local, _ttl, available
from .keys import SessionState, Successor, session_key, successor_key, used_key
from .raw import _codec, _decoder, _pipeline, _read_from_primary, _send_together


class RequestState(NamedTuple):
    session: SessionState | None  # None: not cached (evicted, flushed); read the database
    successor: Successor | None
    recently_used: bool
    # With a replay record to create: whether its SET NX created it (False: a replayed proof).
    replay_created: bool | None = None


class Offer(NamedTuple):
    """A successor computed before the request's read, stored by it unless one is there."""

    successor: Successor
    ttl: float


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
        backend = base.cache()
        tracked = client_side_cache.tracker(backend)
        if replay is not None and tracked is None:
            read = _read_and_record(backend, keys, replay)
            if read is not None:
                return _request_state(sid, jti, *read)
        found = backend.get_many(keys) if tracked is None else tracked.get_many(keys)
        created = None if replay is None else bool(backend.add(replay.key, 1, replay.ttl))
        return _request_state(sid, jti, found, created)


def _offer_codec(backend: BaseCache) -> tuple[Any, Any, Any] | None:
    """The raw client and value codec a read with an offer goes through; None where the
    backend exposes no raw single-node client, or with CLIENT_SIDE_CACHE (whose read needs
    no round trip)."""
    if client_side_cache.tracker(backend) is not None:
        return None
    return _codec(backend)


def read_request_state_offering(sid: str, jti: str, make_offer: Callable[[], Offer | None]
                                ) -> tuple[RequestState, bool] | None:
    """``read_request_state`` and ``add_successor`` of ``make_offer()`` in one round trip
    (a pipeline: MGET, SET NX), for a request whose token will be slid: the state with the
    successor stored for ``jti`` (the one already there, or the offer), and whether the offer
    was stored. None where the read cannot take an offer (``_offer_codec``), before the offer
    is made (it signs a token), or when ``make_offer`` makes none: then read and add apart."""
    backend = base.cache()
    with available():
        codec = _offer_codec(backend)
        if codec is None:
            return None
        offer = make_offer()
        if offer is None:
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


async def aread_request_state(sid: str, jti: str, replay: Any = None) -> RequestState:
    keys = _request_keys(sid, jti)
    with available():
        backend = base.cache()
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


async def aread_request_state_offering(sid: str, jti: str,
                                       make_offer: Callable[[], Offer | None]
                                       ) -> tuple[RequestState, bool] | None:
    """``read_request_state_offering`` in the one thread hop the plain read of a sync cache
    takes. None without a hop where the read cannot take an offer, or with a natively async
    cache (``ASYNC_CACHE_ALIAS``: its own awaited read)."""
    if doubletoken_settings.ASYNC_CACHE_ALIAS:
        return None
    with available():
        if _offer_codec(base.cache()) is None:
            return None
    return await sync_to_async(read_request_state_offering)(sid, jti, make_offer)


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
