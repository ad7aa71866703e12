"""Request state kept in process memory until Redis says it changed (``CLIENT_SIDE_CACHE``).

Redis server-assisted client-side caching (``CLIENT TRACKING``, Redis >= 6): each process
reads the request keys over one *data* connection with tracking on, redirected (RESP2) to a
second *listener* connection subscribed to ``__redis__:invalidate``. Redis remembers which keys
that connection read and, when one of them is written, deleted, expired or flushed, sends its
name to the listener. A steady-state request then makes no round trip at all.

Why it is safe (and where that stops) -- see also docs/client-side-cache.md:

* Invalidations are drained by the request itself, under the tracker's lock, before any
  local entry is looked at: there is no listener thread that could lag behind the request.
* Redis queues a key's invalidation while executing the write and flushes every client's
  output before it reads the writer's next command. A revocation writes the session state
  twice (before and after the database commit, see ``services``), so by the time the revoking
  process answers its caller, the invalidation is already on every tracking process's socket.
  On one host that makes "revoked here, refused there on the very next request" hold; across
  hosts it holds unless the network delays that one packet (a TCP retransmission) longer than
  the caller takes to reach the other host; ``CLIENT_SIDE_CACHE_MAX_AGE`` caps any such
  staleness, and the staleness of a silently dead link.
* Any error on either connection, or a reconnect, drops every local entry (Redis forgets what
  a closed connection tracked); a flush invalidates everything.
* Writes made by this process drop their keys locally at once (read-your-writes).
* Memory is bounded: at most ``CLIENT_SIDE_CACHE_MAX_ENTRIES`` keys, least recently used
  evicted first.
* Backends that cannot track (not django-redis' ``DefaultClient`` on one plain Redis
  server, e.g. Sentinel, replicas, sharding, Redis < 6, an ACL without CLIENT) fall back to
  the plain ``get_many``: one round trip per request, as without this setting.

The ``Tracker`` itself (its two connections, the drain, the bounded entries) lives in
``key_tracking``; this module decides when one is used, one per process and backend.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from django.core.cache import BaseCache
from django.core.signals import setting_changed

from .conf import doubletoken_settings
from .key_tracking import (  # noqa: F401 (importable from here as before)
    _ABSENT,
    CHANNEL,
    DefaultClient,
    Tracker,
    TrackingUnsupported,
    _Reconnected,
)

try:
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover - django-redis is a dependency
    RedisError = OSError  # type: ignore[misc,assignment]

logger = logging.getLogger("django_doubletoken")


_trackers: dict[tuple, Tracker | None] = {}
# The request path's shortcut: backend object id -> (that backend, its tracker or None).
_by_backend: dict[int, tuple[BaseCache, Tracker | None]] = {}
_registry_lock = threading.Lock()


def tracker(backend: BaseCache) -> Tracker | None:
    """This process's tracker for ``backend`` when ``CLIENT_SIDE_CACHE`` is on and the backend
    can track; None otherwise (the caller does a plain round trip)."""
    if not doubletoken_settings.CLIENT_SIDE_CACHE:
        return None
    known = _by_backend.get(id(backend))
    if known is not None and known[0] is backend and (
            known[1] is None or known[1].pid == os.getpid()):
        return known[1]
    max_entries = doubletoken_settings.CLIENT_SIDE_CACHE_MAX_ENTRIES
    max_age = doubletoken_settings.CLIENT_SIDE_CACHE_MAX_AGE.total_seconds()
    key = (os.getpid(), repr(getattr(backend, "_server", None)), type(backend).__name__,
           max_entries, max_age)
    with _registry_lock:
        if key not in _trackers:
            _trackers[key] = _build(backend, max_entries, max_age)
        _by_backend[id(backend)] = (backend, _trackers[key])
        return _trackers[key]


def _build(backend: BaseCache, max_entries: int, max_age: float) -> Tracker | None:
    try:
        built = Tracker(backend, max_entries, max_age)
        with built._lock:
            built._arm()  # find out now whether the server allows tracking
    except TrackingUnsupported as exc:
        logger.warning("CLIENT_SIDE_CACHE is on but unavailable (%s): every request makes one "
                       "cache round trip", exc)
        return None
    except (RedisError, OSError):
        # Redis unreachable right now: build without connecting; the first request retries
        # (and answers 503 while Redis stays down, as without this setting).
        return Tracker(backend, max_entries, max_age)
    return built


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DOUBLETOKEN", "CACHES"):
        reset()


setting_changed.connect(_settings_changed)


def reset() -> None:
    """Close every tracker of this process (settings changed, tests)."""
    with _registry_lock:
        for built in _trackers.values():
            if built is not None:
                built.close()
        _trackers.clear()
        _by_backend.clear()
