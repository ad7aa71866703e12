"""The login throttle's request history, ``<prefix>:throttle:<scope>:<client>``.

DRF's ``SimpleRateThrottle`` history (request times, newest first, kept for the rate's
period): a Redis list written by one script (``THROTTLE_SCRIPT``), which can also write a new
session's keys when the login it counts is let through (``sessions.open_session``), so a
login is one round trip; a pickled list through ``cache()`` on backends that run no scripts.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from django.core.cache import BaseCache

from ..errors import THROTTLED, DoubleTokenError
from . import base
from .base import _invalidate_local, available
from .raw import _raw_client


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
