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

The package, by seam: ``wire`` (what travels: subprotocol elements, the middleware's messages,
close codes), ``handshake`` (reading and verifying the credentials), ``relay`` (the socket's end
of live revocation: its channel-layer group), ``expiry`` (the close at the token's expiry),
``connection`` (one socket, putting them together), ``middleware``, and ``proof`` (the DPoP
proof of a socket) and ``stepup`` (``step_up_required``, a route's step-up check).
"""

from __future__ import annotations

try:
    import channels  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "django_doubletoken.channels needs Django Channels: "
        "pip install 'django-doubletoken[channels]'"
    ) from exc

from .middleware import DoubleTokenAuthMiddleware
from .relay import OUTAGE_FIRST_RETRY, OUTAGE_MAX_RETRY, READ_TIMEOUTS
from .stepup import step_up_required
from .wire import (
    AUTHENTICATE,
    AUTHENTICATED,
    CLOSE_CODES,
    INTERNAL_ERROR,
    SUBPROTOCOL,
    Message,
    Receive,
    Scope,
    Send,
    close_code,
    logger,
)

__all__ = [
    "AUTHENTICATE", "AUTHENTICATED", "CLOSE_CODES", "INTERNAL_ERROR", "OUTAGE_FIRST_RETRY",
    "OUTAGE_MAX_RETRY", "READ_TIMEOUTS", "SUBPROTOCOL", "DoubleTokenAuthMiddleware", "Message",
    "Receive", "Scope", "Send", "close_code", "logger", "step_up_required",
]
