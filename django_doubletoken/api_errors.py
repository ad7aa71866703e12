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

from . import dpop
from .errors import DPOP_CHALLENGES, ERROR_CODES, TOKEN_INVALID, DoubleTokenError, ErrorCode
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
    bare challenge (``Bearer realm="api"``, or ``http.challenge_scheme``'s ``DPoP algs=...``
    for a request that used the DPoP scheme): that alone for a 401 without an RFC 6750 error
    (no credentials, wrong credentials), where DPoP is on followed by the DPoP challenge
    (RFC 9449 §7.1); with ``error`` and ``error_description`` for a refused token, in the
    DPoP challenge for a refused proof; None when the status is not 401."""
    entry = _entry(code)
    if entry.status != 401:
        return None
    dpop_scheme = scheme.startswith("DPoP ")
    if code in DPOP_CHALLENGES and not dpop_scheme:
        scheme, dpop_scheme = dpop.challenge_scheme(), True
    if entry.challenge is None:
        return scheme if dpop_scheme or not dpop.enabled() else (
            f"{scheme}, {dpop.challenge_scheme()}")
    return f'{scheme}, error="{entry.challenge}", error_description="{code}"'


def error_fields(error: DoubleTokenError) -> dict[str, Any]:
    """The body of ``error``'s answer: ``error_body`` plus what the error itself names (a
    step-up refusal's ``max_age`` / ``acr_values``)."""
    return {**error_body(error.code, error.message), **error.fields()}


def error_challenge(error: DoubleTokenError, scheme: str) -> str | None:
    """``challenge`` for ``error`` itself: a step-up refusal's carries its RFC 9470
    parameters."""
    if isinstance(error, InsufficientAuthentication):
        return error.challenge(scheme)
    return challenge(error.code, scheme)


def error_headers(error: DoubleTokenError, scheme: str) -> dict[str, str]:
    """The headers of the error contract's answer to ``error``: its challenge, and the nonce
    a DPoP client must use (``use_dpop_nonce``, RFC 9449 §9)."""
    headers = {}
    header = error_challenge(error, scheme)
    if header is not None:
        headers["WWW-Authenticate"] = header
    nonce = getattr(error, "nonce", None)
    if nonce:
        headers[dpop.NONCE_HEADER] = nonce
    return headers


def error_response(code: str, scheme: str, message: Any = None,
                   error: DoubleTokenError | None = None) -> JsonResponse:
    """The error contract's answer for a view outside DRF and Ninja (``error``: the domain
    error answered, whose own fields and nonce it carries)."""
    body = error_body(code, message) if error is None else error_fields(error)
    response = JsonResponse(body, status=error_status(code))
    for name, value in error_headers(error or DoubleTokenError(code), scheme).items():
        response[name] = value
    return response


def domain_error_response(error: DoubleTokenError, scheme: str) -> JsonResponse:
    """``error_response`` for a domain error, with what the error itself names."""
    return error_response(error.code, scheme, error.message, error)


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
        # The app's exception handler adds them (DPoP-Nonce); DRF's own has no way to.
        self.headers = error_headers(error, scheme)
        if "WWW-Authenticate" in self.headers:
            # DRF's exception handler copies this into the WWW-Authenticate header.
            self.auth_header = self.headers["WWW-Authenticate"]

    def __str__(self) -> str:
        return f"{self.code}: {self.detail['detail']}"
