"""The credentials of a socket: where they are read from at the handshake (and in the first
message), and their verification, the same at the handshake and at every renewal."""

from __future__ import annotations

from urllib.parse import parse_qs

from .. import services
from ..services import AccessGrant
from .wire import SUBPROTOCOL, Message, Scope, authenticate_message, checked_token


class NoToken(Exception):
    """The handshake brought no token and the first message was not one: the face's
    ``not_authenticated``, not a refused token (the core's errors are for those)."""


def token_from_handshake(scope: Scope, query_param: str | None) -> str | None:
    """The token of the handshake (the subprotocol element after the marker, else the query
    parameter when enabled), None when it has none. The marker's element is taken out of
    ``scope["subprotocols"]``: the application sees the marker (and its own protocols),
    never the token."""
    protocols = list(scope.get("subprotocols") or [])
    if SUBPROTOCOL in protocols:
        index = protocols.index(SUBPROTOCOL)
        token = protocols[index + 1] if index + 1 < len(protocols) else None
        scope["subprotocols"] = protocols[: index + 1] + protocols[index + 2 :]
        return checked_token(token)
    if query_param:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get(query_param):
            return checked_token(query[query_param][-1])
    return None


def token_from_first_message(message: Message) -> str:
    """The token of the first message after an early accept; ``NoToken`` if it is not an
    authenticate message."""
    token = authenticate_message(message)
    if token is None:
        raise NoToken
    return checked_token(token)


async def verify(raw: str) -> AccessGrant:
    """Verify a socket's token (at the handshake, or a renewal over the socket)."""
    return await services.aauthenticate_access(raw)
