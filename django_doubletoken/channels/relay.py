"""The socket's end of live revocation: a channel of its own in its session's group on the
channel layer, where ``live_revocation`` relays the ``session_revoked`` signal from whichever
process revoked the session; and what it does when the layer's reads are lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Protocol

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import get_channel_layer

from .. import services
from ..errors import CACHE_UNAVAILABLE, DATABASE_UNAVAILABLE, SESSION_REVOKED, DoubleTokenError
from ..live_revocation import SESSION_REVOKED_EVENT, session_group
from ..services import AccessGrant
from ..store import CACHE_ERRORS
from .wire import logger

try:
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError:  # pragma: no cover - channels-redis needs redis-py
    RedisTimeoutError = asyncio.TimeoutError  # type: ignore[misc,assignment]
try:  # channels-valkey
    from valkey.exceptions import TimeoutError as ValkeyTimeoutError
except ImportError:
    ValkeyTimeoutError = RedisTimeoutError  # type: ignore[misc,assignment]

# A blocking read of the channel layer that outlasted its client's socket timeout.
READ_TIMEOUTS = (RedisTimeoutError, ValkeyTimeoutError, asyncio.TimeoutError)

# Seconds between attempts to reach a channel layer that is down (doubling up to the max).
OUTAGE_FIRST_RETRY = 0.5
OUTAGE_MAX_RETRY = 8.0


class Socket(Protocol):
    """What the relay needs of its connection."""

    grant: AccessGrant | None
    closed: bool

    def close(self, error_code: str) -> Awaitable[None]: ...


class Relay:
    """Listens for the revocation of one socket's session and closes the socket on it."""

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        self.layer: Any = get_channel_layer(DEFAULT_CHANNEL_LAYER)
        self.channel: str | None = None
        self.task: asyncio.Task | None = None

    @property
    def _group(self) -> str:
        return session_group(self.socket.grant.session_id)

    async def join(self) -> None:
        """Listen for the session's revocation, then make sure it did not happen meanwhile."""
        if self.layer is not None:
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(self._group, self.channel)
            self.task = asyncio.ensure_future(self._watch())
        # A revocation between the check and joining the group was not heard: check again.
        await services.acheck_session(self.socket.grant.claims)

    async def renew(self) -> None:
        """Renews the group entry's expiry (channels-redis: a day) for long-lived sockets."""
        if self.channel is None:
            return
        try:
            await self.layer.group_add(self._group, self.channel)
        except CACHE_ERRORS:
            logger.warning("channel layer unavailable", exc_info=True)

    async def leave(self) -> None:
        """Leave the group (after the watch task ended)."""
        if self.channel is None or self.socket.grant is None:
            return
        try:
            await self.layer.group_discard(self._group, self.channel)
        except Exception:  # the group entry expires by itself
            logger.warning("could not leave the group of session %s",
                           self.socket.grant.session_id, exc_info=True)

    async def _watch(self) -> None:
        """Wait on the channel layer for the session's revocation message.

        A read that times out is not an outage: with redis-py 8's default ``socket_timeout``
        (5 s) every idle blocking read of channels-redis (5 s) ends that way (system check
        W010). Either way a revocation sent meanwhile may be lost, so the socket rejoins its
        group and asks the store about its session: the layer and the store answering is a
        healthy layer; only their failing is an outage, retried until they are back. What
        is asked is whether the session still stands, never whether the token the socket
        was opened with is still the newest: a slide replaces a token and ends nothing.
        """
        while not self.socket.closed:
            try:
                message = await self.layer.receive(self.channel)
            except READ_TIMEOUTS:
                logger.debug("channel layer read timed out; checking the layer and session %s",
                             self.socket.grant.session_id)
                if not await self._resync():
                    logger.warning("channel layer unavailable (a read timed out and the layer "
                                   "did not answer)", exc_info=True)
                    await self._resync_until_back()
                continue
            except CACHE_ERRORS:
                logger.warning("channel layer unavailable", exc_info=True)
                await self._resync_until_back()
                continue
            if message.get("type") == SESSION_REVOKED_EVENT:
                await self.socket.close(SESSION_REVOKED)
                return

    async def _resync(self) -> bool:
        """Rejoin the session's group (which also renews the entry's expiry) and close the
        socket if its session was revoked meanwhile. False while the layer or the store
        does not answer."""
        try:
            await self.layer.group_add(self._group, self.channel)
            await services.acheck_session(self.socket.grant.claims)
        except DoubleTokenError as exc:
            if exc.code in (CACHE_UNAVAILABLE, DATABASE_UNAVAILABLE):
                return False
            await self.socket.close(exc.code)
        except CACHE_ERRORS:
            return False
        return True

    async def _resync_until_back(self) -> None:
        delay = OUTAGE_FIRST_RETRY
        while not self.socket.closed:
            await asyncio.sleep(delay)
            if await self._resync():
                logger.info("channel layer available again")
                return
            delay = min(delay * 2, OUTAGE_MAX_RETRY)
