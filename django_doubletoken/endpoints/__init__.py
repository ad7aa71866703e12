"""The auth endpoints, free of any web framework: what DRF and Ninja both adapt.

``base``      the ``Endpoint`` class and ``pair_answer``, shared by all of them
``handlers``  the token endpoints (login, refresh, verify, jwks)
``sessions``  the endpoints on the caller's session (logout, logout-all, logout-others,
              reauthenticate, sessions)
``answers``   ``Answer`` and ``Refusal``: status, body, headers, cookie changes
``body``      reading a request body, with its size, depth and media-type limits
``fields``    the token fields' input rules
``throttle``  the login and re-authentication throttles
"""

from .answers import NO_STORE, Answer, Refusal, token_pair_body
from .base import Endpoint
from .handlers import JWKS, Login, Refresh, Verify
from .sessions import (
    Logout,
    LogoutAll,
    LogoutOthers,
    Reauthenticate,
    SessionDelete,
    SessionList,
)

__all__ = [
    "JWKS",
    "NO_STORE",
    "Answer",
    "Endpoint",
    "Login",
    "Logout",
    "LogoutAll",
    "LogoutOthers",
    "Reauthenticate",
    "Refresh",
    "Refusal",
    "SessionDelete",
    "SessionList",
    "Verify",
    "token_pair_body",
]
