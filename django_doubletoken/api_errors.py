"""The error contract over HTTP, rendered from ``errors.ERROR_CODES``.

Every face renders an error through these: ``error_body()`` (``{"detail", "code"}``),
``error_status()`` and ``challenge()`` (the ``WWW-Authenticate`` value of a 401, RFC 6750).
``APIError`` carries them through DRF's exception handling, ``error_response()`` is the same
answer for plain Django views, and the Ninja face feeds them to its renderer. The challenge's
scheme and realm come from the caller (the authentication class' ``authenticate_header``),
so they are written in one place only. A WebSocket (``django_doubletoken.channels``) closes
with the table's ``close_code`` instead, the code itself as the close reason.
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from rest_framework.exceptions import APIException, ErrorDetail

from .errors import ERROR_CODES, TOKEN_INVALID, DoubleTokenError, ErrorCode
from .stepup import InsufficientAuthentication


def _entry(code: str) -> ErrorCode:
    # A code missing from the table is a bug, but must not turn an answer into a 500: it is
    # rendered as a refused token.
    return ERROR_CODES.get(code) or ERROR_CODES[TOKEN_INVALID]


def error_status(code: str) -> int:
    return _entry(code).status


def error_body(code: str, message: Any = None) -> dict[str, Any]:
    """The body of an error answer; ``message`` (say, the error's own) overrides the table's."""
    return {"detail": str(message if message is not None else _entry(code).message),
            "code": code}


def challenge(code: str, scheme: str) -> str | None:
    """The ``WWW-Authenticate`` value for ``code``, ``scheme`` being the authentication class'
    bare challenge (``Bearer realm="api"``): that alone for a 401 without an RFC 6750 error
    (no credentials, wrong credentials), with ``error`` and ``error_description`` for a
    refused token; None when the status is not 401."""
    entry = _entry(code)
    if entry.status != 401:
        return None
    if entry.challenge is None:
        return scheme
    return f'{scheme}, error="{entry.challenge}", error_description="{code}"'


def error_fields(error: DoubleTokenError) -> dict[str, Any]:
    """The body of ``error``'s answer: ``error_body`` plus what the error itself names (a
    step-up refusal's ``max_age`` / ``acr_values``)."""
    body = error_body(error.code, error.message)
    if isinstance(error, InsufficientAuthentication):
        body.update(error.fields())
    return body


def error_challenge(error: DoubleTokenError, scheme: str) -> str | None:
    """``challenge`` for ``error`` itself: a step-up refusal's carries its RFC 9470
    parameters."""
    if isinstance(error, InsufficientAuthentication):
        return error.challenge(scheme)
    return challenge(error.code, scheme)


def error_response(code: str, scheme: str, message: Any = None) -> JsonResponse:
    """The error contract's answer for a view outside DRF and Ninja."""
    response = JsonResponse(error_body(code, message), status=error_status(code))
    header = challenge(code, scheme)
    if header is not None:
        response["WWW-Authenticate"] = header
    return response


def domain_error_response(error: DoubleTokenError, scheme: str) -> JsonResponse:
    """``error_response`` for a domain error, with what the error itself names."""
    response = JsonResponse(error_fields(error), status=error_status(error.code))
    header = error_challenge(error, scheme)
    if header is not None:
        response["WWW-Authenticate"] = header
    return response


class APIError(APIException):
    """A ``DoubleTokenError`` as DRF renders it, wherever it is raised, without the project
    installing a custom exception handler. Not being an ``AuthenticationFailed``, it is never
    turned into a 403 by views without an authenticator."""

    def __init__(self, error: DoubleTokenError, scheme: str) -> None:
        self.code = error.code
        self.status_code = error_status(error.code)
        body = error_fields(error)
        detail = ErrorDetail(body["detail"], error.code)
        super().__init__(detail={"detail": detail, "code": error.code}, code=error.code)
        # Set after DRF's conversion, which would make strings of numbers (max_age).
        self.detail.update({k: v for k, v in body.items() if k not in ("detail", "code")})
        header = error_challenge(error, scheme)
        if header is not None:
            # DRF's exception handler copies this into the WWW-Authenticate header.
            self.auth_header = header

    def __str__(self) -> str:
        return f"{self.code}: {self.detail['detail']}"
