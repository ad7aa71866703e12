"""Checks of the Channels setup: a channel layer whose Redis reads time out while idle."""

from __future__ import annotations

import inspect
from typing import Any

from django.conf import settings
from django.core.checks import Tags, register
from django.utils.module_loading import import_string

from . import problem

# Seconds of socket timeout the fix suggests above the layer's blocking read.
SOCKET_TIMEOUT_MARGIN = 5


@register(Tags.compatibility, "django_doubletoken")
def check_channel_layers(app_configs=None, **kwargs) -> list:
    """A channels-redis layer whose Redis client gives up on a read before the layer's own
    blocking read (``BZPOPMIN``, 5 s) returns: since redis-py 8 that is the default
    (``socket_timeout`` 5 s), and every consumer that listens on the layer then dies after
    its first idle read, its socket dropped without a close frame (redis-py #4091,
    channels_redis #422)."""
    found = []
    for alias, config in (getattr(settings, "CHANNEL_LAYERS", None) or {}).items():
        blocking_read = _blocking_read_seconds(config)
        if blocking_read is None:
            continue
        hosts = (config.get("CONFIG") or {}).get("hosts") or [None]
        for index, host in enumerate(hosts):
            timeout, source = _socket_timeout(host)
            if not isinstance(timeout, (int, float)) or timeout > blocking_read:
                continue
            found.append(problem("W010", alias=alias, index=index, timeout=timeout,
                                 source=source, blocking_read=blocking_read,
                                 suggested=blocking_read + SOCKET_TIMEOUT_MARGIN))
    return found


def _blocking_read_seconds(config: Any) -> float | None:
    """How long the layer's receive() blocks in one Redis read; None for layers that never
    block longer than a client timeout (in-memory, channels-redis's pub/sub layer)."""
    if not isinstance(config, dict):
        return None
    try:
        backend = import_string(str(config.get("BACKEND", "")))
    except ImportError:
        return None  # Channels itself reports a layer it cannot import
    seconds = getattr(backend, "brpop_timeout", None)
    return float(seconds) if isinstance(seconds, (int, float)) else None


def _socket_timeout(host: Any) -> tuple[float | None, str]:
    """A channels-redis host's read timeout and where it comes from."""
    try:
        from redis.asyncio.connection import AbstractConnection, parse_url
    except ImportError:
        return None, ""
    if isinstance(host, (str, bytes)):
        host = {"address": host.decode() if isinstance(host, bytes) else host}
    elif not isinstance(host, dict):  # (host, port) or the layer's default host
        host = {}
    if "socket_timeout" in host:
        return host["socket_timeout"], "set in the host"
    if isinstance(host.get("address"), str):
        try:
            from_url = parse_url(host["address"])
        except ValueError:
            from_url = {}
        if "socket_timeout" in from_url:
            return from_url["socket_timeout"], "set in the URL"
    default = inspect.signature(AbstractConnection.__init__).parameters["socket_timeout"].default
    return default, "redis-py's default"
