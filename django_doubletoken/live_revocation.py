"""Live revocation for WebSockets: the ``session_revoked`` signal relayed to the channel-layer
group of the session, where ``django_doubletoken.channels`` closes its sockets.

Connected in the app's ``ready()`` whenever Django Channels is installed, so that every process
that can revoke a session (web workers, the admin, management commands) tells the sockets,
wherever they are. Imports nothing of DRF or the HTTP face.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

try:
    from channels import DEFAULT_CHANNEL_LAYER
    from channels.layers import InMemoryChannelLayer, get_channel_layer
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "django_doubletoken.live_revocation needs Django Channels: "
        "pip install 'django-doubletoken[channels]'"
    ) from exc

from asgiref.sync import async_to_sync
from django.db import transaction

logger = logging.getLogger("django_doubletoken")

Message = dict[str, Any]

# Sent through the channel layer to the group of a revoked session.
SESSION_REVOKED_EVENT = "doubletoken.session_revoked"


def session_group(session_id: Any) -> str:
    """The channel-layer group of a session's sockets."""
    return f"doubletoken.session.{session_id}"


class _Relay:
    """An event loop thread of this process's own for channel-layer sends from sync code.

    ``async_to_sync`` would start an event loop, and with it a channel-layer connection, per
    revocation (tens to hundreds of ms); this loop keeps its connections from one send to the
    next. Started on first use and again in a forked child.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(target=self._loop.run_forever, daemon=True,
                                 name="doubletoken-channel-layer").start()
            return self._loop


_relay = _Relay()
# How long a revoking request waits at most for the layer to take the message (one round
# trip to its Redis when all is well).
RELAY_TIMEOUT = 2.0


def _group_send(group: str, message: Message) -> None:
    layer = get_channel_layer(DEFAULT_CHANNEL_LAYER)
    if layer is None:
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    try:
        if running is not None:  # sent from async code: do not block its event loop
            running.create_task(layer.group_send(group, message))
        elif isinstance(layer, InMemoryChannelLayer):
            # Not thread-safe, and only ever in-process: send on the server's own loop (a sync
            # view under ASGI runs in a thread of it).
            async_to_sync(layer.group_send)(group, message)
        else:
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message),
                                                      _relay.loop())
            future.result(timeout=RELAY_TIMEOUT)
    except Exception:
        # The revocation itself is committed and enforced on the next request or message;
        # only the immediate close is lost.
        logger.exception("could not tell the open sockets of %s that it was revoked", group)


def close_sockets_of_revoked_session(sender: Any, session: Any, reason: str, **kwargs) -> None:
    """``session_revoked`` receiver (connected in the app's ``ready()``)."""
    message = {"type": SESSION_REVOKED_EVENT, "reason": str(reason)}
    group = session_group(session.pk)
    transaction.on_commit(lambda: _group_send(group, message), robust=True)
