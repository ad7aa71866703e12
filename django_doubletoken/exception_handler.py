"""The app's DRF exception handler: domain errors and DRF's own auth errors share one shape.

The app's views use it. Optional for a project: set ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``
to ``"django_doubletoken.exception_handler.exception_handler"`` so that DRF's own errors ("no
credentials" 401, ``throttled`` 429, ``parse_error`` 400, ...) carry a ``code`` too, an
oversized body is a 413 JSON answer instead of Django's HTML 400 page, an unreachable or locked
database is a 503 ``database_unavailable`` instead of a 500 (a missing table stays the 500 it
is, with its traceback: see ``database``), a ``DoubleTokenError`` raised by a service called
from a project view is rendered, and a project view's ``ValidationError`` answers as the app's
endpoints do: 400 ``invalid_input``, each field's messages under ``errors`` (a non-field
error under ``non_field_errors``, DRF's ``NON_FIELD_ERRORS_KEY``).
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from .api_errors import APIError
from .authentication import DoubleTokenAuthentication
from .database import is_outage, note_schema_error
from .endpoints import Refusal
from .errors import DATABASE_UNAVAILABLE, DoubleTokenError, ServiceUnavailable
from .http import challenge_scheme
from .parsers import as_api_error


def challenge(request: Any) -> str:
    """The challenge of the request's own authenticator (a ``DoubleTokenAuthentication``
    subclass names its realm), or the app's."""
    for authenticator in getattr(request, "authenticators", None) or ():
        if isinstance(authenticator, DoubleTokenAuthentication):
            return authenticator.challenge_scheme(request)
    return challenge_scheme(getattr(request, "_request", request))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ValidationError):  # one shape for every invalid body of the API
        detail = exc.detail
        exc = Refusal.invalid(detail if isinstance(detail, dict) else {
            api_settings.NON_FIELD_ERRORS_KEY: detail})
    if isinstance(exc, Refusal):  # an endpoint's refusal, answered as the endpoint answers it
        response = Response(exc.answer.body, status=exc.answer.status)
        request = context["request"]
        return exc.answer.finish(response, getattr(request, "_request", request))
    if is_outage(exc):
        # The database is down or locked: say so and let the client retry, not a 500.
        exc = ServiceUnavailable(DATABASE_UNAVAILABLE)
    note_schema_error(exc)  # then DRF re-raises it: Django's 500, logged
    if isinstance(exc, DoubleTokenError):
        exc = APIError(exc, challenge(context["request"]))
    # Django refusing a body outside a parser (say, a middleware read request.POST).
    exc = as_api_error(exc) or exc
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, APIError):
        for name, value in exc.headers.items():  # DPoP-Nonce (WWW-Authenticate is there)
            response.setdefault(name, value)
    if (
        response is not None
        and isinstance(exc, APIException)
        and isinstance(exc.detail, str)
        and isinstance(response.data, dict)
        and "code" not in response.data
    ):
        response.data["code"] = exc.get_codes()
    return response
