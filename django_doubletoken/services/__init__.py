"""Login, refresh with rotation, sliding, revocation: the only code that changes state.

Views, the authentication class, the middleware and the admin call these functions; they
never write the database or the cache themselves. One module per stage of a session's life:

``sessions``  login, revocation, purging old rows
``rotation``  refresh: rotation, the grace window, reuse detection
``access``    every request: authenticating an access token, sliding it near expiry
``pairs``     the token pair login and refresh hand out
``reauthentication``  a fresh ``auth_time`` for a live session (step-up)
"""

from .access import (
    AccessGrant,
    aauthenticate_access,
    acheck_session,
    aslide,
    authenticate_access,
    needs_slide,
    slide,
    withdraw,
)
from .common import profile_for, request_scope, sliding_request, user_pk
from .pairs import TokenPair, issue_pair
from .reauthentication import reauthenticate, session_user
from .rotation import refresh
from .sessions import (
    change_password,
    keeping_session,
    kept_session,
    login,
    purge_sessions,
    revoke_other_sessions,
    revoke_session,
    revoke_sessions,
    revoke_user_sessions,
)

__all__ = [
    "AccessGrant",
    "TokenPair",
    "aauthenticate_access",
    "acheck_session",
    "aslide",
    "authenticate_access",
    "change_password",
    "issue_pair",
    "keeping_session",
    "kept_session",
    "login",
    "needs_slide",
    "profile_for",
    "purge_sessions",
    "reauthenticate",
    "refresh",
    "request_scope",
    "revoke_other_sessions",
    "revoke_session",
    "revoke_sessions",
    "revoke_user_sessions",
    "session_user",
    "slide",
    "sliding_request",
    "user_pk",
    "withdraw",
]
