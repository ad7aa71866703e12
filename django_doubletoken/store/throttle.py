"""The login throttle's request history, ``<prefix>:throttle:<scope>:<client>``.

DRF's ``SimpleRateThrottle`` history (request times, newest first, kept for the rate's
period): a Redis list written by one script (``THROTTLE_SCRIPT``), which can also write a new
session's keys when the login it counts is let through (``sessions.open_session``), so a
login is one round trip; a pickled list through ``cache()`` on backends that run no scripts.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, NamedTuple

from django.core.cache import BaseCache

from ..errors import THROTTLED, DoubleTokenError
from . import base
from .base import NO_SCRIPT_ERRORS, _invalidate_local, available
from .raw import _raw_client, _send_together


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


# KEYS[1]: a throttle's history, a list of request times (newest first); KEYS[2..n]: keys
# to SET when the request is let through. ARGV: now, period, limit, then a value and a TTL
# per key of KEYS[2..n]. Returns nil when the request was let through (and counted, and the
# keys set), or the seconds to wait as a string (Lua numbers would come back truncated).
# DRF's SimpleRateThrottle semantics: a refused request is not counted; the wait is until
# the limit-th newest request ages out of the period. Only that one entry is read (LINDEX),
# never the whole history, so a generous rate costs what a strict one does.
THROTTLE_SCRIPT = """
local history = KEYS[1]
local now, period, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if limit <= 0 then return tostring(period) end
local oldest = redis.pcall('LINDEX', history, limit - 1)  -- nil: fewer than limit
if type(oldest) == 'table' and oldest.err then
  redis.call('DEL', history)  -- not a list: whatever held the key, the history starts afresh
  oldest = false
end
if oldest and tonumber(oldest) > now - period then
  return tostring(tonumber(oldest) + period - now)
end
redis.call('LPUSH', history, ARGV[1])
if oldest then redis.call('LTRIM', history, 0, limit - 1) end
redis.call('EXPIRE', history, period)
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2 * i], 'EX', ARGV[2 * i + 1])
end
return false
"""
THROTTLE_SCRIPT_SHA = hashlib.sha1(THROTTLE_SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis's)


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


def _run_throttle_script(backend: BaseCache, client: Any, encode: Any,
                         throttle: ThrottleHit,
                         entries: list[tuple[str, Any, int]]) -> float | None:
    keys = [backend.make_key(throttle.key)]
    args: list[Any] = [repr(time.time()), throttle.period, throttle.limit]
    for key, value, seconds in entries:
        keys.append(backend.make_key(key))
        args += [encode(value), seconds]
    # EVALSHA on one pooled connection (redis-py's Script object costs more CPU than the
    # round trip; a cluster client's pipeline routes it by its key). A server that has not
    # seen the script yet (restarted, SCRIPT FLUSH) gets it by EVAL, which caches it.
    try:
        wait = _send_together(client, [("EVALSHA", THROTTLE_SCRIPT_SHA, len(keys), *keys,
                                         *args)])[0]
    except NO_SCRIPT_ERRORS:
        wait = client.eval(THROTTLE_SCRIPT, len(keys), *keys, *args)
    if wait is not None:
        return float(wait)
    _invalidate_local([key for key, _, _ in entries])
    return None


def count_request(throttle: ThrottleHit) -> float | None:
    """Count a request against ``throttle`` and return None, or, over its rate, how many
    seconds until the next one would be let through (the request is then not counted)."""
    backend = base.cache()
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
