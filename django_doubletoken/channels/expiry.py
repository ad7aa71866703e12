"""The close at the access token's expiry: one timer per socket, moved on by each renewal
(a fresh token of the same session sent over the socket)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ..errors import TOKEN_EXPIRED


class ExpiryTimer:
    """Closes the socket (``close(TOKEN_EXPIRED)``) when its current token expires."""

    def __init__(self, close: Callable[[str], Awaitable[None]]) -> None:
        self.close = close
        self.task: asyncio.Task | None = None

    def schedule(self, exp: int) -> None:
        """(Re)start the timer for a token expiring at ``exp`` (unix time)."""
        if self.task is not None:
            self.task.cancel()
        self.task = asyncio.ensure_future(self._expire_at(exp))

    async def _expire_at(self, exp: int) -> None:
        while (remaining := exp - time.time()) > 0:
            await asyncio.sleep(remaining)
        await self.close(TOKEN_EXPIRED)
