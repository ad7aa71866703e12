"""The ASGI middleware: one ``Connection`` per WebSocket, everything else passed through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from channels import DEFAULT_CHANNEL_LAYER
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .connection import Connection
from .wire import Receive, Scope, Send


class DoubleTokenAuthMiddleware:
    """ASGI middleware for Channels' ``URLRouter`` (see the ``django_doubletoken.channels``
    docstring).

    ``first_message_timeout``: seconds a handshake without a token waits for the
    authenticate message. ``query_param``: read the token from this query-string parameter as
    a last resort (off by default).
    """

    def __init__(
        self,
        inner: Callable[[Scope, Receive, Send], Awaitable[None]],
        *,
        first_message_timeout: float = 10.0,
        query_param: str | None = None,
    ) -> None:
        if DEFAULT_CHANNEL_LAYER not in getattr(settings, "CHANNEL_LAYERS", {}):
            raise ImproperlyConfigured(
                "DoubleTokenAuthMiddleware needs CHANNEL_LAYERS['default'] (channels-redis on "
                "the Redis of the cache) to close the sockets of revoked sessions."
            )
        self.inner = inner
        self.first_message_timeout = first_message_timeout
        self.query_param = query_param

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        await Connection(self, scope, receive, send).run()
