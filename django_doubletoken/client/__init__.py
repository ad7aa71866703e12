"""A Python client for django-doubletoken: auth for ``requests`` and ``httpx`` (sync and async).

It behaves like the JS client. Every request carries ``Authorization: Bearer <access>``; a
token slid in by the server (``NEW_HTTP_AUTHORIZATION``) is swapped in; a 401 is handled by its
code, by the rule both clients share (the ``action`` of each code in
``django_doubletoken.errors.ERROR_CODES``): a request whose token has been replaced meanwhile
is sent again with the current one; ``token_expired`` and ``token_revoked`` trigger one
refresh, shared by every request in flight, and the request is then sent once more with the
new token; ``token_invalid``, ``session_revoked``, ``session_expired`` and ``refresh_reused``
(from any endpoint, the refresh included) clear the tokens and call ``on_logout``. Nothing is
ever retried twice.

``TokenStore`` also has the account calls of the JS client: ``logout()``, ``logout_all()``,
``logout_others()``, ``sessions()``, ``revoke_session(id)`` and ``reauthenticate(password)``
(and ``a``-prefixed coroutines with httpx). A 401 ``insufficient_user_authentication`` (a
step-up guard, RFC 9470) raises ``StepUpRequired``; ``reauthenticate()`` then cures it.

DPoP (RFC 9449): ``TokenStore.login(..., dpop=True)`` binds the session to a key the client
generates (or pass your own, ``DPoPKey``); every request of the store (login, refresh, logout,
API calls) then carries a proof signed with it, and the token goes as ``Authorization: DPoP``.

Neither requests nor httpx is a dependency of the app: ``RequestsAuth`` exists when requests is
installed, ``HttpxAuth`` when httpx is. Of the app the client imports only the error table (no
settings, no models). Its parts: ``store`` (the tokens, and the one refresh), ``login`` and
``account`` (the calls that make a store and those it makes), ``tokens`` (what is stored and
raised), ``dpop`` (the key, its proofs and nonces), ``exchange`` (what a response makes the
client do, shared by both auth classes), ``transport`` (which library the store's own calls
use), ``requests_auth`` and ``httpx_auth``.
"""

from __future__ import annotations

import warnings
from typing import Any

from .dpop import DPoPKey
from .exchange import DEFAULT_NEW_TOKEN_HEADER, LOGOUT_CODES, RENEW_CODES, STEP_UP_CODES
from .store import TokenStore
from .tokens import (
    LoginFailed,
    ReauthenticationFailed,
    RequestFailed,
    StepUpRequired,
    StoredTokens,
)
from .transport import httpx_auth, requests_auth

if requests_auth is not None:
    from .requests_auth import RequestsAuth
if httpx_auth is not None:
    from .httpx_auth import HttpxAuth

__all__ = [
    "DEFAULT_NEW_TOKEN_HEADER", "LOGOUT_CODES", "RENEW_CODES", "STEP_UP_CODES", "DPoPKey",
    "HttpxAuth", "LoginFailed", "ReauthenticationFailed", "RequestFailed", "RequestsAuth",
    "StepUpRequired", "StoredTokens", "TokenStore",
]


def __getattr__(name: str) -> Any:
    if name == "TokenPair":
        # Its name until 0.2, shared with the unrelated services.TokenPair.
        warnings.warn("django_doubletoken.client.TokenPair is now StoredTokens.",
                      DeprecationWarning, stacklevel=2)
        return StoredTokens
    # A clear message instead of a bare ImportError when the HTTP library is missing.
    library = {"RequestsAuth": "requests", "HttpxAuth": "httpx"}.get(name)
    if library is not None:
        raise ImportError(f"django_doubletoken.client.{name} needs {library}: "
                          f"pip install {library}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
