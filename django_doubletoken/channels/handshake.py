"""The credentials of a socket: where they are read from at the handshake (and in the first
message), and their verification, the same at the handshake and at every renewal."""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import parse_qs

from .. import services
from ..services import AccessGrant
from .proof import proof_from_subprotocols, proof_request
from .wire import SUBPROTOCOL, Message, Scope, authenticate_message, checked_token


class NoToken(Exception):
    """The handshake brought no token and the first message was not one: the face's
    ``not_authenticated``, not a refused token (the core's errors are for those)."""


class Credentials(NamedTuple):
    """An access token and the DPoP proof that came with it (None: no proof was sent)."""

    token: Any  # as sent: ``verify`` checks it
    proof: str | None = None


def from_handshake(scope: Scope, query_param: str | None) -> Credentials | None:
    """The credentials of the handshake: the token is the subprotocol element after the
    ``doubletoken`` marker, else the query parameter when enabled, the proof the element after
    ``doubletoken.dpop``; None when the handshake has no token. The markers' elements are
    taken out of ``scope["subprotocols"]``: the application sees the ``doubletoken`` marker
    (and its own protocols), never a token or a proof."""
    proof = proof_from_subprotocols(scope)
    protocols = list(scope.get("subprotocols") or [])
    if SUBPROTOCOL in protocols:
        index = protocols.index(SUBPROTOCOL)
        token = protocols[index + 1] if index + 1 < len(protocols) else None
        scope["subprotocols"] = protocols[: index + 1] + protocols[index + 2 :]
        return Credentials(token, proof)
    if query_param:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get(query_param):
            return Credentials(query[query_param][-1], proof)
    return None


def from_first_message(message: Message) -> Credentials:
    """The credentials of the first message after an early accept (a proof travels in it
    beside the token); ``NoToken`` if it is not an authenticate message."""
    found = authenticate_message(message)
    if found is None:
        raise NoToken
    return Credentials(*found)


async def verify(scope: Scope, credentials: Credentials) -> AccessGrant:
    """Verify a socket's token and proof (at the handshake, or a renewal over the socket):
    the HTTP face's one access service, with the proof where the ``DPoP`` scheme would
    bring one (its checks, and its replay record in the same cache round trip as the
    session's state). A bound token needs a fresh proof by its key each time."""
    raw = checked_token(credentials.token)
    return await services.aauthenticate_access(
        raw, proof=proof_request(scope, credentials.proof))
