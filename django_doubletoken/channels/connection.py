"""One WebSocket between the server and the inner application: the handshake, then the
client's frames relayed to the application (the middleware's own taken out), the renewals,
and the close, by the middleware (revocation, expiry, refusal) or by either end."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..authentication import TokenUser
from ..errors import (
    CACHE_UNAVAILABLE,
    NOT_AUTHENTICATED,
    TOKEN_INVALID,
    DoubleTokenError,
    TokenError,
)
from ..services import AccessGrant, user_pk
from ..store import CACHE_ERRORS
from . import handshake
from .expiry import ExpiryTimer
from .relay import Relay
from .wire import (
    INTERNAL_ERROR,
    SUBPROTOCOL,
    Message,
    Receive,
    Scope,
    Send,
    authenticate_message,
    authenticated_message,
    close_code,
    close_reason,
    logger,
)

if TYPE_CHECKING:
    from .middleware import DoubleTokenAuthMiddleware


class Connection:
    """One WebSocket between the server and the inner application."""

    def __init__(self, middleware: DoubleTokenAuthMiddleware, scope: Scope, receive: Receive,
                 send: Send) -> None:
        self.middleware = middleware
        self.scope = dict(scope)
        self.receive = receive
        self.send = send
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.marker_offered = SUBPROTOCOL in (scope.get("subprotocols") or [])
        self.accepted = False  # the handshake answer has been sent
        self.accepted_early = False  # by us, to read the token from the first message
        self.closed = False
        self.grant: AccessGrant | None = None
        self.relay = Relay(self)
        self.expiry = ExpiryTimer(self.close)
        self.pump: asyncio.Task | None = None

    # --- handshake ---

    async def run(self) -> None:
        connect = await self.receive()
        if connect["type"] != "websocket.connect":
            return  # the client left before the handshake
        try:
            if await self._authenticate():
                self.pump = asyncio.ensure_future(self._pump())
                self.expiry.schedule(self.grant.claims.exp)
                try:
                    await self.middleware.inner(self.scope, self._inner_receive(connect),
                                                self._send)
                except Exception:
                    # The server logs the error; the client gets a close frame instead of a
                    # dropped connection.
                    await self._close_with(INTERNAL_ERROR, "")
                    raise
        finally:
            await self._leave()

    async def _authenticate(self) -> bool:
        """Admit the socket (True) or close it with the reason (False)."""
        try:
            credentials = handshake.from_handshake(self.scope, self.middleware.query_param)
            if credentials is None:
                credentials = await self._first_message()
                if credentials is None:
                    return False  # disconnected while we waited
            self._admit(await handshake.verify(self.scope, credentials))
            await self.relay.join()
            if self.accepted_early:
                await self._acknowledge()
        except DoubleTokenError as exc:
            await self.refuse(exc)
            return False
        except handshake.NoToken:
            await self.close(NOT_AUTHENTICATED)
            return False
        except CACHE_ERRORS:
            logger.warning("channel layer unavailable", exc_info=True)
            await self.close(CACHE_UNAVAILABLE)
            return False
        return True

    async def _first_message(self) -> handshake.Credentials | None:
        await self.send({"type": "websocket.accept"})
        self.accepted = self.accepted_early = True
        try:
            message = await asyncio.wait_for(
                self.receive(), self.middleware.first_message_timeout)
        except asyncio.TimeoutError:
            raise handshake.NoToken from None
        if message["type"] == "websocket.disconnect":
            self.closed = True
            return None
        return handshake.from_first_message(message)

    def _admit(self, grant: AccessGrant) -> None:
        self.grant = grant
        self.scope["user"] = TokenUser(user_pk(grant.claims.sub))
        self.scope["auth"] = grant

    async def _leave(self) -> None:
        tasks = [task for task in (self.pump, self.relay.task, self.expiry.task)
                 if task is not None]
        for task in tasks:
            task.cancel()
        # Awaited, so that whatever a cancelled task ends with is collected here, not logged
        # as never retrieved (redis-py 8 may turn the cancelled blocking read into a
        # TimeoutError).
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.relay.leave()

    # --- while open ---

    def _inner_receive(self, connect: Message) -> Receive:
        """The inner application's ``receive``: the connect event, then the inbox."""
        first = [connect]

        async def receive() -> Message:
            return first.pop() if first else await self.inbox.get()

        return receive

    async def _pump(self) -> None:
        """Client events to the inbox; authenticate messages are handled here."""
        while True:
            message = await self.receive()
            if message["type"] == "websocket.receive":
                found = authenticate_message(message)
                if found is not None:
                    await self._renew(handshake.Credentials(*found))
                    continue
            await self.inbox.put(message)
            if message["type"] == "websocket.disconnect":
                self.closed = True
                return

    async def _renew(self, credentials: handshake.Credentials) -> None:
        """A fresh token of the socket's session, sent over it (with a fresh proof when it is
        bound): the socket lives on until that one expires."""
        try:
            grant = await handshake.verify(self.scope, credentials)
            if (grant.session_id, grant.claims.sub) != (self.grant.session_id,
                                                        self.grant.claims.sub):
                raise TokenError(TOKEN_INVALID)  # a socket stays with its session
        except DoubleTokenError as exc:
            await self.refuse(exc)
            return
        self._admit(grant)
        self.expiry.schedule(grant.claims.exp)
        await self.relay.renew()
        await self._acknowledge()

    async def _acknowledge(self) -> None:
        await self._send(authenticated_message(self.grant.claims.exp))

    # --- to the client ---

    async def _send(self, message: Message) -> None:
        """The inner application's ``send``."""
        if self.closed:
            return  # we closed the socket under it; its disconnect event is on the way
        kind = message["type"]
        if kind == "websocket.accept":
            if self.accepted_early:
                return
            if self.marker_offered and not message.get("subprotocol"):
                # A browser offered ["doubletoken", token] fails the handshake unless one of
                # its offers is selected.
                message = {**message, "subprotocol": SUBPROTOCOL}
            self.accepted = True
        elif kind == "websocket.close":
            self.closed = True
        await self.send(message)

    async def close(self, error_code: str) -> None:
        """Close the socket for this error code (its close code, the code as the reason)."""
        await self._close_with(close_code(error_code), error_code)

    async def refuse(self, error: DoubleTokenError) -> None:
        """Close the socket for this error: its code's close code, and as the reason the code
        with what the client needs to answer it (``wire.close_reason``)."""
        await self._close_with(close_code(error.code), close_reason(error))

    async def _close_with(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if not self.accepted:
                # Closing before accepting would be an HTTP 403 without the code: accept first.
                await self.send({"type": "websocket.accept",
                                 "subprotocol": SUBPROTOCOL if self.marker_offered else None})
                self.accepted = True
            await self.send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:  # the client is already gone
            logger.debug("socket closed before %s could be sent", code, exc_info=True)
        await self.inbox.put({"type": "websocket.disconnect", "code": code})
