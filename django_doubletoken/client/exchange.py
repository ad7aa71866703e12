"""What a response to a request sent with an access token makes the client do.

Written once, as a flow (``django_doubletoken.flow``), for both auth classes and both I/O
styles: ``response_flow`` yields ``Recover`` (ask the store what to do about a 401; answered
with the token to send the request again with, or None) and ``Replay`` (send the request again
with that token; answered with the new response), and returns the response to hand back. Each
auth class drives it with its own I/O.

What a 401 means comes from the server's own table (``django_doubletoken.errors``), the one
rule both clients follow: ``RENEW_CODES`` are cured by a refresh, ``LOGOUT_CODES`` end the
session; any other 401 is returned as it is.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ERROR_CODES, LOGIN, RENEW_ACTIONS

if TYPE_CHECKING:
    from .store import TokenStore

DEFAULT_NEW_TOKEN_HEADER = "NEW_HTTP_AUTHORIZATION"
# What a 401 means, by its code's action in the server's table: a refresh cures it...
RENEW_CODES = frozenset(code for code, entry in ERROR_CODES.items()
                        if entry.status == 401 and entry.action in RENEW_ACTIONS)
# ...or the session is over and only a new login helps. Any other 401 is returned as it is.
LOGOUT_CODES = frozenset(code for code, entry in ERROR_CODES.items()
                         if entry.status == 401 and entry.action == LOGIN)


@dataclass(frozen=True)
class Recover:
    """A request sent with ``sent`` got a 401 with ``code``: ``TokenStore.recover`` it."""

    sent: str = field(repr=False)
    code: str | None
    replayed: bool = False


@dataclass(frozen=True)
class Replay:
    """Send the request once more, with ``token``."""

    token: str = field(repr=False)


ACCEPTED = object()


def response_flow(store: TokenStore, sent: str | None, response: Any, replayable: bool
                  ) -> Generator[Recover | Replay, Any, Any]:
    """The decisions about ``response`` (its 401 body already read) to a request that carried
    ``sent``: pick up a slid token; recover from a 401 and replay the request once (when its
    body can be sent again); a 401 to the replay is only ever a log-out, never a loop."""
    code = rejection(store, response, sent)
    if code is ACCEPTED:
        return response
    token = yield Recover(sent, code)
    if token is None or not replayable:
        return response
    retried = yield Replay(token)
    code = rejection(store, retried, token)
    if code is not ACCEPTED:
        yield Recover(token, code, replayed=True)
    return retried


def rejection(store: TokenStore, response: Any, sent: str | None) -> str | None | object:
    """Picks up a slid token; then the code of a 401 to a request that carried a token, or
    ``ACCEPTED`` when there is nothing to recover from."""
    store.accept_slid(sent, response.headers.get(store.new_token_header))
    if sent is None or response.status_code != 401:
        return ACCEPTED
    return code_of(json_of(response))


def code_of(body: Any) -> str | None:
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def json_of(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def bearer_of(headers: Any) -> str | None:
    value = headers.get("Authorization") or ""
    return value[len("Bearer "):] if value.startswith("Bearer ") else None
