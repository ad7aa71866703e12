"""What travels on the socket for the middleware: the subprotocol marker, its own messages
and the close codes of refusals. No state, nothing of the connection."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..conf import doubletoken_settings
from ..dpop import MAX_PROOF_LENGTH
from ..errors import ERROR_CODES, TOKEN_INVALID, DoubleTokenError, TokenError

logger = logging.getLogger("django_doubletoken")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SUBPROTOCOL = "doubletoken"
# RFC 6455 §7.4.1: the application failed (the consumer raised).
INTERNAL_ERROR = 1011
AUTHENTICATE = "doubletoken.authenticate"
AUTHENTICATED = "doubletoken.authenticated"

# The close code of each code that closes a socket, read from the one table.
CLOSE_CODES = {code: entry.close_code for code, entry in ERROR_CODES.items()
               if entry.close_code is not None}


# RFC 6455 §5.5.1: a close frame's body is at most 125 bytes, 2 of them the code.
MAX_CLOSE_REASON = 123


def close_code(error_code: str) -> int:
    return CLOSE_CODES.get(error_code, CLOSE_CODES[TOKEN_INVALID])


def close_reason(error: DoubleTokenError) -> str:
    """The reason of the close frame for ``error``: its code, then what the client needs to
    answer it, as space-separated parameters written like the auth-params of the HTTP
    challenge (a string quoted, a number bare): ``use_dpop_nonce nonce="<the nonce>"``,
    ``insufficient_user_authentication max_age=300`` (or ``acr_values="a b"``). The code
    alone when that would not fit in a close frame."""
    params: dict[str, Any] = {}
    nonce = getattr(error, "nonce", None)  # dpop.ProofError with use_dpop_nonce
    if isinstance(nonce, str) and nonce:
        params["nonce"] = nonce
    params.update(error.fields())
    parts = [error.code]
    for name, value in params.items():
        parts.append(f"{name}={value}" if isinstance(value, int) else f'{name}="{value}"')
    reason = " ".join(parts)
    return reason if len(reason.encode()) <= MAX_CLOSE_REASON else error.code


def checked_token(value: Any) -> str:
    """A token as it came (subprotocol element, message field, query parameter), refused
    with ``token_invalid`` unless it is a plausible one."""
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


def authenticate_message(message: Message) -> tuple[Any, str | None] | None:
    """The token and DPoP proof of a ``doubletoken.authenticate`` text frame (the proof None
    when it has no ``dpop`` member, "" when that is not a string); None for any other
    frame."""
    text = message.get("text")
    # Cheap test first: the consumer's own frames are never parsed here.
    if not isinstance(text, str) or AUTHENTICATE not in text:
        return None
    if len(text) > doubletoken_settings.MAX_TOKEN_LENGTH + MAX_PROOF_LENGTH + 200:
        return "", None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("type") != AUTHENTICATE:
        return None
    proof = data.get("dpop")
    return data.get("token", ""), None if proof is None else (
        proof if isinstance(proof, str) else "")


def authenticated_message(exp: int) -> Message:
    """The answer to an accepted ``doubletoken.authenticate`` message."""
    return {"type": "websocket.send",
            "text": json.dumps({"type": AUTHENTICATED, "expires_at": exp})}
