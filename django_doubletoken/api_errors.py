"""The error contract over HTTP: the one place a domain error code becomes a response.

Status, body ``{"detail": "...", "code": "..."}`` and, for a refused token, the RFC 6750
``WWW-Authenticate`` challenge. The challenge's scheme and realm come from the caller (the
authentication class' ``authenticate_header``), so they are written in one place only.
"""

from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail

from .errors import CACHE_UNAVAILABLE, DATABASE_UNAVAILABLE, INVALID_CREDENTIALS, DoubleTokenError

# Every other code is a credential the client must replace: 401.
STATUS_CODES = {
    CACHE_UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
    DATABASE_UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
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
