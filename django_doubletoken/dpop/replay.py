"""The replay store: one ``SET NX`` per accepted proof, keyed by the key's thumbprint and a
digest of the ``jti``, expiring when the proof could no longer be accepted anyway."""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from .. import store
from ..conf import doubletoken_settings
from .errors import refuse
from .jose import b64url, utf8


class ReplayEntry(NamedTuple):
    """The replay record of one proof: a cache key (before the backend's ``make_key``) to
    create with SET NX, expiring after ``ttl`` seconds, when the proof could no longer be
    accepted anyway."""

    key: str
    ttl: int


def replay_key(jkt: str, jti: str) -> str:
    """The key's thumbprint (as the hash tag: one device's records stay on one Cluster node)
    and a digest of the jti, so a client's long or odd jti costs no more than a short one."""
    digest = b64url(hashlib.sha256(utf8(jti)).digest()[:16])
    return f"{doubletoken_settings.CACHE_KEY_PREFIX}:dpop:{{{jkt}}}:{digest}"


REPLAYED = "the proof was already used"


def replay_accepted(added: Any) -> None:
    """Raise unless the SET NX (or ``add``) of a replay record created it."""
    if not added:
        raise refuse(REPLAYED)


def record_replay(entry: ReplayEntry) -> None:
    """Create the replay record; ``invalid_dpop_proof`` if it exists (the proof was used)."""
    with store.available():
        replay_accepted(store.cache().add(entry.key, 1, entry.ttl))


async def arecord_replay(entry: ReplayEntry) -> None:
    with store.available():
        replay_accepted(await store._acall("add", entry.key, 1, entry.ttl))


def queue_replay(pipeline: Any, backend: Any, entry: ReplayEntry) -> None:
    """Queue the replay record's SET NX in a redis-py pipeline of ``backend`` (a django-redis
    cache), beside the request's other commands; pass its result to ``replay_accepted``.
    Stores what ``record_replay`` stores (django-redis keeps integers unpickled)."""
    pipeline.set(backend.make_key(entry.key), 1, nx=True, ex=entry.ttl)
