"""Which cache the store talks to, and what its failures become.

``cache()`` and ``async_cache()`` name the Django cache (``CACHE_ALIAS``, ``ASYNC_CACHE_ALIAS``);
``_acall`` runs one of its methods from async code at the lowest cost the backend allows;
``available()`` turns every connection failure of every supported client (redis-py,
valkey-py, their cluster clients, django-redis, django-valkey) into
``ServiceUnavailable("cache_unavailable")``, a 503 that changes nothing. ``_invalidate_local``
drops this process's tracked copies (CLIENT_SIDE_CACHE) of keys it just wrote.

The other modules of the package call ``base.cache()`` (not a copy of the function), so a
test that swaps ``cache`` here swaps it for all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.core.cache import BaseCache, caches

from .. import client_side_cache
from ..conf import doubletoken_settings
from ..errors import CACHE_UNAVAILABLE, ServiceUnavailable

try:
    from redis.exceptions import NoScriptError, RedisError, ResponseError
except ImportError:  # pragma: no cover - redis is a dependency of django-redis
    RedisError = ResponseError = NoScriptError = OSError  # type: ignore[misc,assignment]
try:
    from django_redis.client import ShardClient
    from django_redis.exceptions import ConnectionInterrupted
except ImportError:  # pragma: no cover
    ConnectionInterrupted = OSError  # type: ignore[misc,assignment]
    ShardClient = type("ShardClient", (), {})  # type: ignore[misc,assignment]
try:  # django-valkey raises valkey-py's own errors (not redis-py's) or its own wrapper
    from django_valkey.exceptions import ConnectionInterrupted as ValkeyInterrupted
    from valkey.exceptions import NoScriptError as ValkeyNoScriptError
    from valkey.exceptions import ResponseError as ValkeyResponseError
    from valkey.exceptions import ValkeyClusterException, ValkeyError
except ImportError:
    ValkeyError = ValkeyClusterException = ValkeyInterrupted = RedisError  # type: ignore[misc,assignment]
    ValkeyResponseError, ValkeyNoScriptError = ResponseError, NoScriptError  # type: ignore[misc]
try:  # raised when no cluster node answers; not a RedisError
    from redis.exceptions import RedisClusterException
except ImportError:  # pragma: no cover
    RedisClusterException = RedisError  # type: ignore[misc,assignment]

CACHE_ERRORS = (RedisError, RedisClusterException, ValkeyError, ValkeyClusterException,
                ConnectionInterrupted, ValkeyInterrupted, OSError)
# The server answered a command with an error: the connection itself is fine.
REPLY_ERRORS = (ResponseError, ValkeyResponseError)
NO_SCRIPT_ERRORS = (NoScriptError, ValkeyNoScriptError)

# Backends whose set_many cannot take a timeout: django-valkey's cluster cache maps
# set_many(mapping, timeout) onto MSET with the timeout taken as the key *version*.
SET_MANY_WITHOUT_TIMEOUT = ("django_valkey.cluster_cache.",)

logger = logging.getLogger("django_doubletoken")


def cache() -> BaseCache:
    return caches[doubletoken_settings.CACHE_ALIAS]


def async_cache() -> BaseCache:
    """The same data as ``cache()``, through a backend with native async methods if one is
    configured (a sync backend runs each async call in a thread)."""
    alias = doubletoken_settings.ASYNC_CACHE_ALIAS
    return caches[alias] if alias else cache()


@contextmanager
def available() -> Iterator[None]:
    try:
        yield
    except CACHE_ERRORS as exc:
        raise ServiceUnavailable(CACHE_UNAVAILABLE) from exc


def _ttl(seconds: float) -> int:
    return max(1, int(seconds + 0.999))


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
