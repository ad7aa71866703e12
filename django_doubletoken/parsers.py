"""Request body parsers that answer every bad body with a 4xx, never a 500 or an HTML page.

DRF's own parsers let three kinds of hostile body escape as non-API errors:

- JSON nested about a thousand levels deep raises ``RecursionError`` (a 500);
- a body over Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` raises ``RequestDataTooBig`` and a form
  with too many fields ``TooManyFieldsSent``, which Django answers with its HTML 400 page.

These parsers turn each into a DRF error: 400 ``parse_error`` or 413 ``request_too_large``.
The app's endpoints use them; a project gets the same for its own views by listing them in
``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`` (see the README's "Security model").
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers, renderers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.settings import api_settings as drf_settings
from rest_framework.utils import json as drf_json

from .errors import REQUEST_TOO_LARGE


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is larger than this server accepts.")
    default_code = REQUEST_TOO_LARGE


def as_api_error(exc: Exception) -> APIException | None:
    """The DRF error for one of Django's refusals of a request body; None for anything else."""
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return ParseError(str(exc))
    return None


def read_body(stream: Any, parser_context: dict[str, Any]) -> bytes:
    """The whole body, bounded by ``DATA_UPLOAD_MAX_MEMORY_SIZE`` as Django bounds it.

    Read through ``HttpRequest.body`` when DRF hands over the request itself, so that Django
    checks the size before reading and ``request.body`` stays readable afterwards.
    """
    django_request = getattr(parser_context.get("request"), "_request", None)
    try:
        if django_request is not None and stream is django_request:
            return django_request.body
        return stream.read()
    except RequestDataTooBig:
        raise RequestTooLarge() from None


def nesting_depth_exceeds(data: Any, limit: int) -> bool:
    """Whether lists/objects in ``data`` nest deeper than ``limit``; iterative, so that the
    check itself cannot run out of stack."""
    pending = [(data, 1)] if isinstance(data, (dict, list)) else []
    while pending:
        value, depth = pending.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children
                       if isinstance(child, (dict, list)))
    return False


class JSONParser(parsers.BaseParser):
    """DRF's JSON parser, bounded in size (``DATA_UPLOAD_MAX_MEMORY_SIZE``) and in nesting
    depth (``max_depth``; subclass to change it). No JSON body an API expects nests deeper."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer
    strict = drf_settings.STRICT_JSON
    max_depth = 64

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        parser_context = parser_context or {}
        raw = read_body(stream, parser_context)
        encoding = parser_context.get("encoding") or "utf-8"
        try:
            text = raw.decode(encoding)
            data = json.loads(
                text, parse_constant=drf_json.strict_constant if self.strict else None
            )
        except RecursionError:
            raise self._too_deep() from None
        except (ValueError, LookupError) as exc:
            raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from None
        # The bracket count bounds the depth: most bodies need no walk at all.
        brackets = text.count("[") + text.count("{")
        if brackets > self.max_depth and nesting_depth_exceeds(data, self.max_depth):
            raise self._too_deep()
        return data

    def _too_deep(self) -> ParseError:
        return ParseError(
            _("JSON parse error - nested deeper than %(limit)d levels.") % {"limit": self.max_depth}
        )


class FormParser(parsers.BaseParser):
    """DRF's URL-encoded form parser, with Django's size and field-count limits as 4xx."""

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None) -> QueryDict:
        parser_context = parser_context or {}
        raw = read_body(stream, parser_context)
        try:
            return QueryDict(raw, encoding=parser_context.get("encoding") or "utf-8")
        except (TooManyFieldsSent, LookupError, ValueError) as exc:
            raise ParseError(_("Form parse error - %(error)s") % {"error": exc}) from None


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, with Django's size and field/file-count limits as 4xx."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent) as exc:
            raise as_api_error(exc) from None
        except LookupError as exc:
            raise ParseError(_("Multipart form parse error - %(error)s") % {"error": exc}) from None


# What the app's views use, and what the README recommends for DEFAULT_PARSER_CLASSES.
PARSER_CLASSES = (JSONParser, FormParser, MultiPartParser)
