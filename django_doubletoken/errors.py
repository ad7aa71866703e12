"""The error contract: the domain errors and the one table of every code the app answers with.

The core (``tokens``, ``store``, ``models``, ``services``) raises ``DoubleTokenError``s with a
core code and knows nothing of HTTP. ``ERROR_CODES`` says, for every code any face answers
with (core codes and the faces' own, such as ``not_authenticated`` or ``throttled``), its
message, HTTP status, RFC 6750 challenge, WebSocket close code and what a client does about
it. Everything else reads it: ``api_errors`` renders responses from it, the Channels face
closes sockets with its close codes, the Python client takes its renew / log-out decisions
from it, the JS client's copy is checked against it by the tests, and the documentation's
error-code reference is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# --- codes the core raises ---------------------------------------------------------------
TOKEN_EXPIRED = "token_expired"
TOKEN_INVALID = "token_invalid"
TOKEN_REVOKED = "token_revoked"
SESSION_REVOKED = "session_revoked"
SESSION_EXPIRED = "session_expired"
REFRESH_REUSED = "refresh_reused"
INVALID_CREDENTIALS = "invalid_credentials"
CACHE_UNAVAILABLE = "cache_unavailable"
DATABASE_UNAVAILABLE = "database_unavailable"
# DPoP (RFC 9449 §7.1, §8-9): the request's proof is missing or wrong; or the server wants
# its nonce in the proof (sent in DPoP-Nonce).
INVALID_DPOP_PROOF = "invalid_dpop_proof"
USE_DPOP_NONCE = "use_dpop_nonce"
SIMPLEJWT_MIGRATION_ENDED = "simplejwt_migration_ended"
# RFC 9470 §3: the token is genuine, but the user's authentication behind it is too old or not
# strong enough for this resource (a step-up guard); re-authenticating the session cures it.
INSUFFICIENT_USER_AUTHENTICATION = "insufficient_user_authentication"
CORE_CODES = frozenset({TOKEN_EXPIRED, TOKEN_INVALID, TOKEN_REVOKED, SESSION_REVOKED,
                        SESSION_EXPIRED, REFRESH_REUSED, INVALID_CREDENTIALS, CACHE_UNAVAILABLE,
                        DATABASE_UNAVAILABLE, INVALID_DPOP_PROOF, USE_DPOP_NONCE,
                        SIMPLEJWT_MIGRATION_ENDED, INSUFFICIENT_USER_AUTHENTICATION})

# --- codes only a face answers with (DRF's own codes, and the app's body and CSRF guards) ---
NOT_AUTHENTICATED = "not_authenticated"
AUTHENTICATION_FAILED = "authentication_failed"
PERMISSION_DENIED = "permission_denied"
CSRF_FAILED = "csrf_failed"
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
PARSE_ERROR = "parse_error"
# A body that parsed but whose fields did not validate; the answer names each field's
# messages under ``errors`` (``{"<field>": ["<message>", ...]}``, DRF's shape).
INVALID_INPUT = "invalid_input"
REQUEST_TOO_LARGE = "request_too_large"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
THROTTLED = "throttled"

# --- what a client does (``ErrorCode.action``) ---------------------------------------------
# Renew the access token with the refresh token (one refresh shared by every request in
# flight), then send the request once more.
REFRESH = "refresh"
# This token was replaced: send the request again with the newer access token already
# received (NEW_HTTP_AUTHORIZATION, another tab, a refresh); refresh when there is none.
USE_NEWER_TOKEN = "use_newer_token"
# The session is over: drop the tokens and log in again.
LOGIN = "login"
# The server cannot answer now and changed nothing: keep the tokens, try again later.
RETRY = "retry"
# The request cannot succeed as it was sent (missing or wrong credentials, a body the server
# refuses, a forbidden action): change the request; the tokens are not the problem.
FIX_REQUEST = "fix_request"
# The user must prove who they are again (RFC 9470 step-up): re-authenticate the same session
# (``reauthenticate/``) to meet the challenge's ``max_age`` / ``acr_values``, then send the
# request once more. The tokens stay valid meanwhile; a client that cannot ask the user
# returns the answer as it is.
STEP_UP = "step_up"

ACTIONS = (REFRESH, USE_NEWER_TOKEN, LOGIN, RETRY, FIX_REQUEST, STEP_UP)
# The actions a client answers by renewing its access token before one replay.
RENEW_ACTIONS = frozenset({REFRESH, USE_NEWER_TOKEN})

# RFC 6750 §3.1: the ``error=`` of the challenge of a refused token.
INVALID_TOKEN_CHALLENGE = "invalid_token"
# RFC 9449 §7.1 and §9: the ``error=`` of a DPoP challenge, the code itself. At a token
# endpoint (login, refresh) ``use_dpop_nonce`` is a 400 instead (RFC 9449 §8:
# ``dpop.TOKEN_ENDPOINT_STATUS``).
DPOP_CHALLENGES = (INVALID_DPOP_PROOF, USE_DPOP_NONCE)
# RFC 9470 §3: the ``error=`` of a step-up challenge, the code itself; the challenge also
# carries ``max_age`` and/or ``acr_values`` (``stepup.challenge``).
STEP_UP_CHALLENGE = INSUFFICIENT_USER_AUTHENTICATION

# WebSocket close codes: 4000-4999 are the application's (RFC 6455 §7.4.2), 1013 is "try
# again later".
TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class ErrorCode:
    """One code of the error contract.

    ``challenge`` is the RFC 6750 (or RFC 9449) ``error=`` of the 401's ``WWW-Authenticate``
    header, or None when the 401 carries the bare challenge (or the status is not 401: no
    header at all).
    ``close_code`` is the WebSocket close code (None: never closes a socket). ``action`` is
    one of ``ACTIONS``.
    """

    code: str
    message: Promise | str
    status: int
    challenge: str | None
    close_code: int | None
    action: str


def _table(*codes: ErrorCode) -> dict[str, ErrorCode]:
    return {entry.code: entry for entry in codes}


ERROR_CODES: dict[str, ErrorCode] = _table(
    ErrorCode(TOKEN_EXPIRED, _("The access token has expired."),
              401, INVALID_TOKEN_CHALLENGE, 4002, REFRESH),
    ErrorCode(TOKEN_REVOKED, _("The token has been replaced or revoked."),
              401, INVALID_TOKEN_CHALLENGE, 4003, USE_NEWER_TOKEN),
    ErrorCode(TOKEN_INVALID, _("The token is invalid."),
              401, INVALID_TOKEN_CHALLENGE, 4001, LOGIN),
    ErrorCode(SESSION_REVOKED, _("This session has been logged out."),
              401, INVALID_TOKEN_CHALLENGE, 4004, LOGIN),
    ErrorCode(SESSION_EXPIRED, _("This session has expired; log in again."),
              401, INVALID_TOKEN_CHALLENGE, 4005, LOGIN),
    ErrorCode(REFRESH_REUSED,
              _("This refresh token was already used; the session has been logged out."),
              401, INVALID_TOKEN_CHALLENGE, 4006, LOGIN),
    # Not a token the client must replace: the proof sent with it. A DPoP client sends a
    # fresh proof (with the nonce of the DPoP-Nonce header for use_dpop_nonce).
    ErrorCode(INVALID_DPOP_PROOF, _("The DPoP proof is missing or invalid."),
              401, INVALID_DPOP_PROOF, 4007, FIX_REQUEST),
    ErrorCode(USE_DPOP_NONCE, _("The DPoP proof must carry the server's nonce (DPoP-Nonce)."),
              401, USE_DPOP_NONCE, 4008, FIX_REQUEST),
    # Not a token to replace: the user's proof behind it. A socket refused at its handshake
    # closes with 4009, the client re-authenticates and connects again.
    ErrorCode(INSUFFICIENT_USER_AUTHENTICATION,
              _("This action needs a more recent or a stronger authentication; confirm "
                "your identity to continue."),
              401, STEP_UP_CHALLENGE, 4009, STEP_UP),
    ErrorCode(SIMPLEJWT_MIGRATION_ENDED,
              _("Tokens issued before the switch of sign-in systems are no longer accepted; "
                "log in again."),
              401, INVALID_TOKEN_CHALLENGE, None, LOGIN),
    ErrorCode(INVALID_CREDENTIALS, _("Unable to log in with the provided credentials."),
              401, None, None, FIX_REQUEST),
    ErrorCode(NOT_AUTHENTICATED, _("Authentication credentials were not provided."),
              401, None, 4000, FIX_REQUEST),
    ErrorCode(AUTHENTICATION_FAILED, _("Incorrect authentication credentials."),
              401, None, None, FIX_REQUEST),
    ErrorCode(CACHE_UNAVAILABLE, _("The token store is unavailable; try again shortly."),
              503, None, TRY_AGAIN_LATER, RETRY),
    ErrorCode(DATABASE_UNAVAILABLE, _("The database is unavailable; try again shortly."),
              503, None, TRY_AGAIN_LATER, RETRY),
    ErrorCode(THROTTLED, _("Request was throttled."), 429, None, None, RETRY),
    ErrorCode(PERMISSION_DENIED, _("You do not have permission to perform this action."),
              403, None, None, FIX_REQUEST),
    ErrorCode(CSRF_FAILED, _("CSRF check failed."), 403, None, None, FIX_REQUEST),
    ErrorCode(NOT_FOUND, _("Not found."), 404, None, None, FIX_REQUEST),
    ErrorCode(METHOD_NOT_ALLOWED, _("Method not allowed."), 405, None, None, FIX_REQUEST),
    ErrorCode(PARSE_ERROR, _("Malformed request."), 400, None, None, FIX_REQUEST),
    ErrorCode(INVALID_INPUT, _("Some fields are missing or invalid; see errors."),
              400, None, None, FIX_REQUEST),
    ErrorCode(REQUEST_TOO_LARGE, _("The request body is larger than this server accepts."),
              413, None, None, FIX_REQUEST),
    ErrorCode(UNSUPPORTED_MEDIA_TYPE, _("Unsupported media type in request."),
              415, None, None, FIX_REQUEST),
)


class DoubleTokenError(Exception):
    """Base class: a core ``code`` from ``ERROR_CODES`` and the message a client is shown."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        if message is None:
            entry = ERROR_CODES.get(code)
            message = entry.message if entry is not None else code
        self.message = message
        super().__init__(code)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def fields(self) -> dict[str, Any]:
        """What the answer names beside ``detail`` and ``code`` (in the JSON body, and as
        parameters of a WebSocket's close reason): nothing, unless a subclass says (a step-up
        refusal's ``max_age`` / ``acr_values``)."""
        return {}


class TokenError(DoubleTokenError):
    """A token, session or credential the client must replace (refresh, or log in again)."""


class ServiceUnavailable(DoubleTokenError):
    """A backing store (cache, database) is down; nothing was changed, the client may retry."""
