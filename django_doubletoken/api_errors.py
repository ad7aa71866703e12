"""The error contract over HTTP: the one place a domain error code becomes a response.

Status, body ``{"detail": "...", "code": "..."}`` and, for a refused token, the RFC 6750
``WWW-Authenticate`` challenge. The challenge's scheme and realm come from the caller (the
authentication class' ``authenticate_header``), so they are written in one place only.
A WebSocket (``django_doubletoken.channels``) closes with ``CLOSE_CODES[code]`` instead, the
code itself as the close reason.
"""

from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail

from .errors import (
    CACHE_UNAVAILABLE,
    DATABASE_UNAVAILABLE,
    INVALID_CREDENTIALS,
    REFRESH_REUSED,
    SESSION_EXPIRED,
    SESSION_REVOKED,
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    TOKEN_REVOKED,
    DoubleTokenError,
)

# DRF's code for a request without credentials; the Ninja and WebSocket faces use it too.
NOT_AUTHENTICATED = "not_authenticated"

# Every other code is a credential the client must replace: 401.
STATUS_CODES = {
    CACHE_UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
    DATABASE_UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
}

# WebSocket close codes: 4000-4999 are the application's (RFC 6455 §7.4.2), 1013 is "try
# again later". The client's rule is the HTTP one: 4002/4003 → refresh (or send the newer
# token) and reconnect, 4001/4004-4006 → log in again, 1013 → retry later.
CLOSE_CODES = {
    NOT_AUTHENTICATED: 4000,
    TOKEN_INVALID: 4001,
    TOKEN_EXPIRED: 4002,
    TOKEN_REVOKED: 4003,
    SESSION_REVOKED: 4004,
    SESSION_EXPIRED: 4005,
    REFRESH_REUSED: 4006,
    CACHE_UNAVAILABLE: 1013,
    DATABASE_UNAVAILABLE: 1013,
}


class APIError(APIException):
    """A ``DoubleTokenError`` as DRF renders it, wherever it is raised, without the project
    installing a custom exception handler. Not being an ``AuthenticationFailed``, it is never
    turned into a 403 by views without an authenticator."""

    def __init__(self, error: DoubleTokenError, challenge: str) -> None:
        self.code = error.code
        self.status_code = STATUS_CODES.get(error.code, status.HTTP_401_UNAUTHORIZED)
        detail = ErrorDetail(str(error.message), error.code)
        super().__init__(detail={"detail": detail, "code": error.code}, code=error.code)
        if self.status_code == status.HTTP_401_UNAUTHORIZED:
            # DRF's exception handler copies this into the WWW-Authenticate header.
            self.auth_header = (
                challenge
                if error.code == INVALID_CREDENTIALS
                else f'{challenge}, error="invalid_token", error_description="{error.code}"'
            )

    def __str__(self) -> str:
        return f"{self.code}: {self.detail['detail']}"
