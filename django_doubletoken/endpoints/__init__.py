"""The auth endpoints, free of any web framework: what DRF and Ninja both adapt.

``handlers``  the endpoints (login, refresh, verify, jwks, logout, logout-all, sessions)
``answers``   ``Answer`` and ``Refusal``: status, body, headers, cookie changes
``body``      reading a request body, with its size, depth and media-type limits
``fields``    the token fields' input rules
``throttle``  the login throttle
"""

from .answers import NO_STORE, Answer, Refusal, token_pair_body
from .handlers import (
    JWKS,
    Endpoint,
    Login,
    Logout,
    LogoutAll,
    Refresh,
    SessionDelete,
    SessionList,
    Verify,
)

__all__ = [
    "JWKS",
    "NO_STORE",
    "Answer",
    "Endpoint",
    "Login",
    "Logout",
    "LogoutAll",
    "Refresh",
    "Refusal",
    "SessionDelete",
    "SessionList",
    "Verify",
    "token_pair_body",
]
