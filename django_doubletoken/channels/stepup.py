"""Step-up at the handshake (RFC 9470): a route or consumer that needs a recent, or a
stronger, authentication than the socket's token shows.

``step_up_required(app, max_age=300)`` (or ``acr_values=...``) wraps a consumer's ASGI
application, in a ``URLRouter`` behind ``DoubleTokenAuthMiddleware``. The check is the one
every face applies (``stepup.Requirement``, on the claims the middleware verified: no query,
no cache round trip); a socket that does not meet it is closed with the
``insufficient_user_authentication`` close code before its consumer runs, the reason naming
what is unmet (``max_age=300``, ``acr_values="..."``), and nothing else happens. The client
re-authenticates its session (``reauthenticate/``) and reconnects with the new token. It is
checked at the handshake only: an open socket is not closed when ``max_age`` goes by.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ..stepup import InsufficientAuthentication, requirement
from .wire import Receive, Scope, Send, close_code, close_reason

Application = Callable[[Scope, Receive, Send], Awaitable[None]]


def step_up_required(app: Application, *, max_age: Any = None,
                     acr_values: Iterable[str] | str = ()) -> Application:
    """``app``, admitting only sockets whose token's authentication is at most ``max_age``
    old (seconds or a ``timedelta``) and whose ``acr`` is one of ``acr_values``."""
    needed = requirement(max_age, acr_values)  # a ValueError for a bad option, at import

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        grant = scope.get("auth")
        if grant is None:
            raise ImproperlyConfigured(
                "step_up_required() must be served behind DoubleTokenAuthMiddleware.")
        try:
            needed.check(grant.claims)
        except InsufficientAuthentication as exc:
            # Accepted first, or the close would be an HTTP 403 without its code (an accept
            # after the middleware's own is dropped by it).
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": close_code(exc.code),
                        "reason": close_reason(exc)})
            return
        await app(scope, receive, send)

    guarded.requirement = needed  # type: ignore[attr-defined]
    return guarded
