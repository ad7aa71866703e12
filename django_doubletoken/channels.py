"""Django Channels support (optional extra: ``pip install django-doubletoken[channels]``).

``DoubleTokenAuthMiddleware`` authenticates a WebSocket with an access token and keeps it
honest for as long as it stays open:

- the token comes as a ``Sec-WebSocket-Protocol`` value after the ``doubletoken`` marker
  (``new WebSocket(url, ["doubletoken", access])``), or else in the first message,
  ``{"type": "doubletoken.authenticate", "token": "<access>"}``; never from the query string
  unless ``query_param`` is set (URLs end up in access logs);
- ``scope["user"]`` is a lazy ``TokenUser``, ``scope["auth"]`` the ``AccessGrant``;
- when the session is revoked (logout, logout everywhere, admin, refresh token reuse, password
  change...), every socket of that session closes at once, on every worker and host: the
  ``session_revoked`` signal is relayed to a channel-layer group per session;
- at the access token's expiry the socket closes, unless the client has sent a fresh token of
  the same session over it first (the same ``doubletoken.authenticate`` message; the answer is
  ``{"type": "doubletoken.authenticated", "expires_at": <unix time>}``);
- a slide of its token on an HTTP request closes nothing: the socket lives until its session is
  revoked or its token expires (after a lost channel-layer read it asks about the session only).

Failures close the socket with the error code as the reason and its ``close_code`` from
``errors.ERROR_CODES`` (4000 ``not_authenticated``: no token in the handshake, and the first
message was not one). Messages of type ``doubletoken.*`` are the middleware's; the consumer never
sees them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

try:
    from channels import DEFAULT_CHANNEL_LAYER
    from channels.layers import get_channel_layer
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "django_doubletoken.channels needs Django Channels: "
        "pip install 'django-doubletoken[channels]'"
    ) from exc

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from . import services
from .authentication import TokenUser
from .conf import doubletoken_settings
from .errors import (
    CACHE_UNAVAILABLE,
    DATABASE_UNAVAILABLE,
    ERROR_CODES,
    NOT_AUTHENTICATED,
    SESSION_REVOKED,
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    DoubleTokenError,
    TokenError,
)
from .live_revocation import SESSION_REVOKED_EVENT, session_group
from .services import AccessGrant
from .store import CACHE_ERRORS

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

logger = logging.getLogger("django_doubletoken")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SUBPROTOCOL = "doubletoken"
# RFC 6455 §7.4.1: the application failed (the consumer raised).
INTERNAL_ERROR = 1011
# Seconds between attempts to reach a channel layer that is down (doubling up to the max).
OUTAGE_FIRST_RETRY = 0.5
OUTAGE_MAX_RETRY = 8.0
AUTHENTICATE = "doubletoken.authenticate"
AUTHENTICATED = "doubletoken.authenticated"


# The close code of each code that closes a socket, read from the one table.
CLOSE_CODES = {code: entry.close_code for code, entry in ERROR_CODES.items()
               if entry.close_code is not None}


def close_code(error_code: str) -> int:
    return CLOSE_CODES.get(error_code, CLOSE_CODES[TOKEN_INVALID])


class _NoToken(Exception):
    """The handshake brought no token and the first message was not one: the face's
    ``not_authenticated``, not a refused token (the core's errors are for those)."""


# --- the middleware ----------------------------------------------------------------------


def _checked_token(value: Any) -> str:
    if (
        not isinstance(value, str)
        or not value
        or len(value) > doubletoken_settings.MAX_TOKEN_LENGTH
        or not value.isascii()
        or not value.isprintable()
        or " " in value
    ):
        raise TokenError(TOKEN_INVALID)
    return value


def _authenticate_message(message: Message) -> Any:
    """The token of a ``doubletoken.authenticate`` text frame; None for any other frame."""
    text = message.get("text")
    # Cheap test first: the consumer's own frames are never parsed here.
    if not isinstance(text, str) or AUTHENTICATE not in text:
        return None
    if len(text) > doubletoken_settings.MAX_TOKEN_LENGTH + 200:
        return ""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("type") != AUTHENTICATE:
        return None
    return data.get("token", "")


class DoubleTokenAuthMiddleware:
    """ASGI middleware for Channels' ``URLRouter`` (see the module docstring).

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
        await _Connection(self, scope, receive, send).run()


class _Connection:
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
        self.layer = get_channel_layer(DEFAULT_CHANNEL_LAYER)
        self.channel: str | None = None
        self.tasks: list[asyncio.Task] = []
        self.expiry: asyncio.Task | None = None

    # --- handshake ---

    async def run(self) -> None:
        connect = await self.receive()
        if connect["type"] != "websocket.connect":
            return  # the client left before the handshake
        try:
            if await self._authenticate():
                self.tasks.append(asyncio.ensure_future(self._pump()))
                self._schedule_expiry()
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
            raw = self._token_from_handshake()
            if raw is None:
                raw = await self._token_from_first_message()
                if raw is None:
                    return False  # disconnected while we waited
            self._admit(await services.aauthenticate_access(raw))
            await self._join()
            if self.accepted_early:
                await self._acknowledge()
        except DoubleTokenError as exc:
            await self._close(exc.code)
            return False
        except _NoToken:
            await self._close(NOT_AUTHENTICATED)
            return False
        except CACHE_ERRORS:
            logger.warning("channel layer unavailable", exc_info=True)
            await self._close(CACHE_UNAVAILABLE)
            return False
        return True

    def _token_from_handshake(self) -> str | None:
        protocols = list(self.scope.get("subprotocols") or [])
        if self.marker_offered:
            index = protocols.index(SUBPROTOCOL)
            token = protocols[index + 1] if index + 1 < len(protocols) else None
            # The application sees the marker (and its own protocols), never the token.
            self.scope["subprotocols"] = protocols[: index + 1] + protocols[index + 2 :]
            return _checked_token(token)
        param = self.middleware.query_param
        if param:
            query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
            if query.get(param):
                return _checked_token(query[param][-1])
        return None

    async def _token_from_first_message(self) -> str | None:
        await self.send({"type": "websocket.accept"})
        self.accepted = self.accepted_early = True
        try:
            message = await asyncio.wait_for(
                self.receive(), self.middleware.first_message_timeout)
        except asyncio.TimeoutError:
            raise _NoToken from None
        if message["type"] == "websocket.disconnect":
            self.closed = True
            return None
        token = _authenticate_message(message)
        if token is None:
            raise _NoToken
        return _checked_token(token)

    def _admit(self, grant: AccessGrant) -> None:
        self.grant = grant
        self.scope["user"] = TokenUser(services.user_pk(grant.claims.sub))
        self.scope["auth"] = grant

    async def _join(self) -> None:
        """Listen for the session's revocation, then make sure it did not happen meanwhile."""
        if self.layer is not None:
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(session_group(self.grant.session_id), self.channel)
            self.tasks.append(asyncio.ensure_future(self._watch()))
        # A revocation between the check and joining the group was not heard: check again.
        await services.acheck_session(self.grant.claims)

    async def _leave(self) -> None:
        tasks = [task for task in [*self.tasks, self.expiry] if task is not None]
        for task in tasks:
            task.cancel()
        # Awaited, so that whatever a cancelled task ends with is collected here, not logged
        # as never retrieved (redis-py 8 may turn the cancelled blocking read into a
        # TimeoutError).
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.channel is not None and self.grant is not None:
            try:
                await self.layer.group_discard(session_group(self.grant.session_id),
                                               self.channel)
            except Exception:  # the group entry expires by itself
                logger.warning("could not leave the group of session %s",
                               self.grant.session_id, exc_info=True)

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
                token = _authenticate_message(message)
                if token is not None:
                    await self._reauthenticate(token)
                    continue
            await self.inbox.put(message)
            if message["type"] == "websocket.disconnect":
                self.closed = True
                return

    async def _reauthenticate(self, token: Any) -> None:
        try:
            grant = await services.aauthenticate_access(_checked_token(token))
            if (grant.session_id, grant.claims.sub) != (self.grant.session_id,
                                                        self.grant.claims.sub):
                raise TokenError(TOKEN_INVALID)  # a socket stays with its session
        except DoubleTokenError as exc:
            await self._close(exc.code)
            return
        self._admit(grant)
        self._schedule_expiry()
        if self.channel is not None:
            # Renews the group entry's expiry (channels-redis: a day) for long-lived sockets.
            try:
                await self.layer.group_add(session_group(grant.session_id), self.channel)
            except CACHE_ERRORS:
                logger.warning("channel layer unavailable", exc_info=True)
        await self._acknowledge()

    async def _acknowledge(self) -> None:
        await self._send({"type": "websocket.send", "text": json.dumps(
            {"type": AUTHENTICATED, "expires_at": self.grant.claims.exp})})

    def _schedule_expiry(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        self.expiry = asyncio.ensure_future(self._expire_at(self.grant.claims.exp))

    async def _expire_at(self, exp: int) -> None:
        while (remaining := exp - time.time()) > 0:
            await asyncio.sleep(remaining)
        await self._close(TOKEN_EXPIRED)

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
        while not self.closed:
            try:
                message = await self.layer.receive(self.channel)
            except READ_TIMEOUTS:
                logger.debug("channel layer read timed out; checking the layer and session %s",
                             self.grant.session_id)
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
                await self._close(SESSION_REVOKED)
                return

    async def _resync(self) -> bool:
        """Rejoin the session's group (which also renews the entry's expiry) and close the
        socket if its session was revoked meanwhile. False while the layer or the store
        does not answer."""
        try:
            await self.layer.group_add(session_group(self.grant.session_id), self.channel)
            await services.acheck_session(self.grant.claims)
        except DoubleTokenError as exc:
            if exc.code in (CACHE_UNAVAILABLE, DATABASE_UNAVAILABLE):
                return False
            await self._close(exc.code)
        except CACHE_ERRORS:
            return False
        return True

    async def _resync_until_back(self) -> None:
        delay = OUTAGE_FIRST_RETRY
        while not self.closed:
            await asyncio.sleep(delay)
            if await self._resync():
                logger.info("channel layer available again")
                return
            delay = min(delay * 2, OUTAGE_MAX_RETRY)

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

    async def _close(self, error_code: str) -> None:
        await self._close_with(close_code(error_code), error_code)

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
