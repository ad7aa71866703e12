"""What a response to a request sent with an access token makes the client do.

Written once, as a flow (``django_doubletoken.flow``), for both auth classes and both I/O
styles: ``response_flow`` yields ``Recover`` (ask the store what to do about a 401; answered
with the token to send the request again with, or None) and ``Replay`` (send the request again
with that token, and a fresh DPoP proof; answered with the new response), and returns the
response to hand back. Each auth class drives it with its own I/O.

What a 401 means comes from the server's own table (``django_doubletoken.errors``), the one
rule both clients follow: ``RENEW_CODES`` are cured by a refresh, ``LOGOUT_CODES`` end the
session, ``STEP_UP_CODES`` raise ``StepUpRequired`` (the user must re-authenticate); any other
401 is returned as it is. With DPoP, a request refused with ``use_dpop_nonce`` is sent once
more with the nonce the refusal carried.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import DPOP_CHALLENGES, ERROR_CODES, LOGIN, RENEW_ACTIONS, STEP_UP, USE_DPOP_NONCE
from .dpop import NONCE_HEADER, took_nonce
from .tokens import StepUpRequired, code_of

if TYPE_CHECKING:
    from .store import TokenStore

__all__ = ["ACCEPTED", "DEFAULT_NEW_TOKEN_HEADER", "LOGOUT_CODES", "PROOF_CODES", "RENEW_CODES",
           "STEP_UP_CODES", "Recover", "Replay", "StepUp", "bearer_of", "code_of", "json_of",
           "rejection", "response_flow"]

DEFAULT_NEW_TOKEN_HEADER = "NEW_HTTP_AUTHORIZATION"
# What a 401 means, by its code's action in the server's table: a refresh cures it...
RENEW_CODES = frozenset(code for code, entry in ERROR_CODES.items()
                        if entry.status == 401 and entry.action in RENEW_ACTIONS)
# ...or the session is over and only a new login helps...
LOGOUT_CODES = frozenset(code for code, entry in ERROR_CODES.items()
                         if entry.status == 401 and entry.action == LOGIN)
# ...or the user must prove who they are again (RFC 9470). Any other 401 is returned as it is.
STEP_UP_CODES = frozenset(code for code, entry in ERROR_CODES.items()
                          if entry.status == 401 and entry.action == STEP_UP)
# A DPoP proof the server did not take: the request's fault, not the session's, even at the
# refresh endpoint (the tokens are kept).
PROOF_CODES = frozenset(code for code, entry in ERROR_CODES.items()
                        if entry.challenge in DPOP_CHALLENGES)


@dataclass(frozen=True)
class Recover:
    """A request sent with ``sent`` got a 401 with ``code``: ``TokenStore.recover`` it."""

    sent: str = field(repr=False)
    code: str | None
    replayed: bool = False


@dataclass(frozen=True)
class StepUp:
    """A request sent with ``sent`` met a step-up guard: ``TokenStore.step_up`` it (answered
    with the token to send it again with, or None to raise ``error``)."""

    sent: str = field(repr=False)
    error: StepUpRequired


@dataclass(frozen=True)
class Replay:
    """Send the request once more, with ``token``."""

    token: str = field(repr=False)


ACCEPTED = object()


def response_flow(store: TokenStore, sent: str | None, response: Any, replayable: bool
                  ) -> Generator[Recover | StepUp | Replay, Any, Any]:
    """The decisions about ``response`` (its 401 body already read) to a request that carried
    ``sent``: pick up a slid token and a DPoP nonce; send it once more when it was refused for
    want of that nonce; recover from a 401 and replay the request once (when its body can be
    sent again); a 401 to the replay is only ever a log-out, never a loop. A step-up 401 goes
    to ``StepUp`` (the auth's ``on_step_up``) and is raised as ``StepUpRequired`` unless that
    re-authenticated, in which case the request is replayed once."""
    code = rejection(store, response, sent)
    if code == USE_DPOP_NONCE and replayable and response.headers.get(NONCE_HEADER):
        response = yield Replay(sent)
        code = rejection(store, response, sent)
    if code is ACCEPTED:
        return response
    if code in STEP_UP_CODES:
        token = yield StepUp(sent, step_up_error(response))
        if token is None or not replayable:
            return _returned(response, code)
        retried = yield Replay(token)
        code = rejection(store, retried, token)
        if code is not ACCEPTED and code not in STEP_UP_CODES:
            yield Recover(token, code, replayed=True)
        return _returned(retried, code)
    token = yield Recover(sent, code)
    if token is None or not replayable:
        return _returned(response, code)
    retried = yield Replay(token)
    code = rejection(store, retried, token)
    if code is not ACCEPTED:
        yield Recover(token, code, replayed=True)
    return _returned(retried, code)


def rejection(store: TokenStore, response: Any, sent: str | None) -> str | None | object:
    """Picks up a slid token; then the code of a 401 to a request that carried a token, or
    ``ACCEPTED`` when there is nothing to recover from."""
    store.accept_slid(sent, response.headers.get(store.new_token_header))
    if store.dpop is not None:
        took_nonce(store.dpop, str(response.request.url), response.headers)
    if sent is None or response.status_code != 401:
        return ACCEPTED
    return code_of(json_of(response))


def _returned(response: Any, code: str | None | object) -> Any:
    """The response handed back to the app; a step-up refusal is raised instead."""
    if code in STEP_UP_CODES:
        raise step_up_error(response)
    return response


def step_up_error(response: Any) -> StepUpRequired:
    return StepUpRequired(response.status_code, json_of(response),
                          response.headers.get("WWW-Authenticate"), response)


def json_of(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def bearer_of(headers: Any) -> str | None:
    """The access token a request carried (``Authorization: Bearer`` or ``DPoP``)."""
    value = headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    return token if scheme in ("Bearer", "DPoP") and token else None
