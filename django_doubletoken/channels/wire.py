"""What travels on the socket for the middleware: the subprotocol marker, its own messages
and the close codes of refusals. No state, nothing of the connection."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..conf import doubletoken_settings
from ..errors import ERROR_CODES, TOKEN_INVALID, TokenError

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


def close_code(error_code: str) -> int:
    return CLOSE_CODES.get(error_code, CLOSE_CODES[TOKEN_INVALID])


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


def authenticate_message(message: Message) -> Any:
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


def authenticated_message(exp: int) -> Message:
    """The answer to an accepted ``doubletoken.authenticate`` message."""
    return {"type": "websocket.send",
            "text": json.dumps({"type": AUTHENTICATED, "expires_at": exp})}
