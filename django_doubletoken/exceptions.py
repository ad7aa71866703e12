"""The error contract: every failure a client must react to has a stable ``code``.

These are DRF exceptions, so DRF renders them wherever they are raised (authentication
class, view, service) as ``{"detail": "...", "code": "..."}`` with the right status, without
the project installing a custom exception handler.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail

# What a client should do for each code: refresh, or log in again.
TOKEN_EXPIRED = "token_expired"
TOKEN_INVALID = "token_invalid"
TOKEN_REVOKED = "token_revoked"
SESSION_REVOKED = "session_revoked"
SESSION_EXPIRED = "session_expired"
REFRESH_REUSED = "refresh_reused"
INVALID_CREDENTIALS = "invalid_credentials"
CACHE_UNAVAILABLE = "cache_unavailable"
DATABASE_UNAVAILABLE = "database_unavailable"

MESSAGES = {
    TOKEN_EXPIRED: _("The access token has expired."),
    TOKEN_INVALID: _("The token is invalid."),
    TOKEN_REVOKED: _("The token has been replaced or revoked."),
    SESSION_REVOKED: _("This session has been logged out."),
    SESSION_EXPIRED: _("This session has expired; log in again."),
    REFRESH_REUSED: _("This refresh token was already used; the session has been logged out."),
    INVALID_CREDENTIALS: _("Unable to log in with the provided credentials."),
    CACHE_UNAVAILABLE: _("The token store is unavailable; try again shortly."),
    DATABASE_UNAVAILABLE: _("The database is unavailable; try again shortly."),
}


class DoubleTokenError(APIException):
    """Base class; ``detail`` is already the response body, so DRF renders it as is."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        text = message if message is not None else str(MESSAGES.get(code, code))
        super().__init__(detail={"detail": ErrorDetail(text, code), "code": code}, code=code)

    def __str__(self) -> str:
        return f"{self.code}: {self.detail['detail']}"


class TokenError(DoubleTokenError):
    """401 for a token, session or credential the client must replace (RFC 6750 §3)."""

    status_code = status.HTTP_401_UNAUTHORIZED

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code, message)
        # DRF's exception handler copies this into the WWW-Authenticate header. Not being an
        # AuthenticationFailed, the error is never turned into a 403 by views without
        # an authenticator.
        self.auth_header = (
            'Bearer realm="api"'
            if code == INVALID_CREDENTIALS
            else f'Bearer realm="api", error="invalid_token", error_description="{code}"'
        )


class ServiceUnavailable(DoubleTokenError):
    """503: a backing store is down; nothing was changed, the client may retry."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


def exception_handler(exc: Exception, context: dict):
    """DRF's exception handler, plus a ``code`` on DRF's own errors.

    Optional: set ``REST_FRAMEWORK["EXCEPTION_HANDLER"]`` to this so that DRF's own errors
    ("no credentials" 401, ``throttled`` 429, ``parse_error`` 400, ...) share the
    ``{"detail", "code"}`` shape of ours, an oversized body is a 413 JSON answer instead of
    Django's HTML 400 page, and an unreachable or locked database is a 503
    ``database_unavailable`` instead of a 500. The app's own views use it anyway.
    """
    from django.db import InterfaceError, OperationalError
    from rest_framework.views import exception_handler as drf_exception_handler

    from .parsers import as_api_error

    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is down or locked: say so and let the client retry, not a 500.
        exc = ServiceUnavailable(DATABASE_UNAVAILABLE)
    # Django refusing a body outside a parser (say, a middleware read request.POST).
    exc = as_api_error(exc) or exc
    response = drf_exception_handler(exc, context)
    if (
        response is not None
        and isinstance(exc, APIException)
        and isinstance(exc.detail, str)
        and isinstance(response.data, dict)
        and "code" not in response.data
    ):
        response.data["code"] = exc.get_codes()
    return response
