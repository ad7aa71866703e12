"""The app's DRF exception handler: domain errors and DRF's own auth errors share one shape.

The app's views use it. Optional for a project: set ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``
to ``"django_doubletoken.exception_handler.exception_handler"`` so that DRF's own errors ("no
credentials" 401, ``throttled`` 429, ``parse_error`` 400, ...) carry a ``code`` too, an
oversized body is a 413 JSON answer instead of Django's HTML 400 page, an unreachable or locked
database is a 503 ``database_unavailable`` instead of a 500 (a missing table stays the 500 it
is, with its traceback: see ``database``), and a ``DoubleTokenError`` raised by a service
called from a project view is rendered.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .api_errors import APIError
from .authentication import DoubleTokenAuthentication
from .database import is_outage, note_schema_error
from .errors import DATABASE_UNAVAILABLE, DoubleTokenError, ServiceUnavailable
from .parsers import as_api_error


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if is_outage(exc):
        # The database is down or locked: say so and let the client retry, not a 500.
        exc = ServiceUnavailable(DATABASE_UNAVAILABLE)
    note_schema_error(exc)  # then DRF re-raises it: Django's 500, logged
    if isinstance(exc, DoubleTokenError):
        challenge = DoubleTokenAuthentication().authenticate_header(context["request"])
        exc = APIError(exc, challenge)
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
