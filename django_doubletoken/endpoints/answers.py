"""What an endpoint answers, as plain data every face renders the same way.

An ``Answer`` is a status, a JSON-able body (None for an empty 204), headers, and the cookie
changes to make on the response. A ``Refusal`` is an exception carrying the ``Answer`` that
refuses the request: every refusal of the auth endpoints (bad body, bad field, throttled,
refused token, store down) is built here, once, so that DRF and Ninja cannot word it apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import dpop
from ..api_errors import error_body, error_fields, error_headers, error_status
from ..errors import (
    ERROR_CODES,
    INVALID_INPUT,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    THROTTLED,
    DoubleTokenError,
)
from ..services import TokenPair

# RFC 6749 §5.1: responses carrying tokens must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


Finisher = Callable[[HttpResponseBase, HttpRequest], None]


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Cookie changes (set or delete the refresh cookie, Django's CSRF cookie), applied to the
    # face's response object once it exists.
    finishers: list[Finisher] = field(default_factory=list)

    def as_response(self, request: HttpRequest) -> HttpResponseBase:
        """As a plain Django response: JSON, or empty for a body of None (faces without
        renderers of their own: Ninja, plain views)."""
        if self.body is None:
            response: HttpResponseBase = HttpResponse(status=self.status)
        else:
            response = JsonResponse(self.body, status=self.status, safe=False)
        return self.finish(response, request)

    def finish(self, response: HttpResponseBase, request: HttpRequest) -> HttpResponseBase:
        for name, value in self.headers.items():
            response[name] = value
        for finisher in self.finishers:
            finisher(response, request)
        return response


class Refusal(Exception):
    """The request is refused with ``answer``; raised anywhere inside an endpoint."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status, answer.body)
        self.answer = answer

    @classmethod
    def coded(cls, code: str, detail: Any = None,
              headers: dict[str, str] | None = None) -> Refusal:
        """A refusal with ``code``'s status from the one table (``errors.ERROR_CODES``) and its
        body; ``detail`` replaces the table's message."""
        return cls(Answer(error_status(code), error_body(code, detail), dict(headers or {})))

    @classmethod
    def invalid(cls, errors: dict[str, Any]) -> Refusal:
        """400 ``invalid_input`` for fields that failed validation, each field's messages
        under ``errors`` in DRF's shape, ``{"field": ["message", ...]}`` (nested, since a
        login body may well have a field named ``code`` or ``detail``). The messages are
        ``str`` subclasses carrying their ``code`` (DRF's ``ErrorDetail``, ``Message``)."""
        return cls(Answer(400, {**error_body(INVALID_INPUT), "errors": dict(errors)}))

    @classmethod
    def for_error(cls, error: DoubleTokenError, scheme: str, *,
                  token_endpoint: bool = False) -> Refusal:
        """The error contract's answer to a domain error: its status, body and challenge
        (``scheme``: the bare challenge of the face, ``Bearer realm="..."``), the nonce of a
        ``use_dpop_nonce``, what the error itself names (a step-up refusal's ``max_age``); at
        a token endpoint (login, refresh) a ``use_dpop_nonce`` is a 400 (RFC 9449 §8),
        without a challenge."""
        status = dpop.error_status(error.code, token_endpoint=token_endpoint) if (
            error.code in ERROR_CODES) else error_status(error.code)
        headers = error_headers(error, scheme)
        if status != 401:
            headers.pop("WWW-Authenticate", None)
        return cls(Answer(status, error_fields(error), headers))

    @classmethod
    def throttled(cls, wait: float) -> Refusal:
        seconds = math.ceil(wait)
        detail = "{} {}".format(
            _("Request was throttled."),
            ngettext("Expected available in {wait} second.",
                     "Expected available in {wait} seconds.", seconds).format(wait=seconds),
        )
        return cls.coded(THROTTLED, detail, {"Retry-After": str(seconds)})

    @classmethod
    def not_found(cls, detail: Any = None) -> Refusal:
        return cls.coded(NOT_FOUND, detail)

    @classmethod
    def method_not_allowed(cls, method: str, allowed: list[str]) -> Refusal:
        """405 for a method the endpoint does not take, in DRF's words and with ``Allow``."""
        detail = _('Method "{method}" not allowed.').format(method=method)
        return cls.coded(METHOD_NOT_ALLOWED, detail, {"Allow": ", ".join(allowed)})


def token_pair_body(pair: TokenPair) -> dict[str, Any]:
    """The JSON body of login/ and refresh/ for ``pair`` (the DRF schema's
    ``TokenPairResponseSerializer`` describes it; a test compares the two field by field)."""
    return {
        "access": str(pair.access),
        "refresh": str(pair.refresh),
        "token_type": pair.token_type,
        "access_expires_at": pair.access_expires_at.isoformat(),
        "refresh_expires_at": pair.refresh_expires_at.isoformat(),
        "session_id": str(pair.session_id),
    }
