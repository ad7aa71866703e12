"""Request body parsers that answer every bad body with a 4xx, never a 500 or an HTML page.

DRF's own parsers let three kinds of hostile body escape as non-API errors:

- JSON nested about a thousand levels deep raises ``RecursionError`` (a 500);
- a body over Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` raises ``RequestDataTooBig`` and a form
  with too many fields ``TooManyFieldsSent``, which Django answers with its HTML 400 page.

These parsers adapt the app's own body rules (``endpoints.body``, which its endpoints apply on
every face) to DRF: 400 ``parse_error`` or 413 ``request_too_large``. A project gets them for
its own views by listing them in ``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`` (see the
README's "Security model").
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers, renderers
from rest_framework.exceptions import APIException, ParseError
from rest_framework.settings import api_settings as drf_settings
from rest_framework.utils import json as drf_json

from .endpoints import Refusal, body


class RefusalError(APIException):
    """An endpoint ``Refusal`` where DRF renders errors: its status, ``detail`` and ``code``."""

    def __init__(self, refusal: Refusal) -> None:
        answer = refusal.answer
        self.status_code = answer.status
        super().__init__(detail=answer.body["detail"], code=answer.body["code"])


def as_api_error(exc: Exception) -> APIException | None:
    """The DRF error for one of Django's refusals of a request body; None for anything else."""
    refusal = body.refusal_of_django(exc)
    return RefusalError(refusal) if refusal is not None else None


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
        raise RefusalError(body.too_large()) from None


class JSONParser(parsers.BaseParser):
    """DRF's JSON parser, bounded in size (``DATA_UPLOAD_MAX_MEMORY_SIZE``) and in nesting
    depth (``max_depth``; subclass to change it). No JSON body an API expects nests deeper."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer
    strict = drf_settings.STRICT_JSON
    max_depth = body.MAX_JSON_DEPTH

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        parser_context = parser_context or {}
        raw = read_body(stream, parser_context)
        try:
            return body.parse_json(
                raw, parser_context.get("encoding") or "utf-8", max_depth=self.max_depth,
                parse_constant=drf_json.strict_constant if self.strict else None,
            )
        except Refusal as refusal:
            raise RefusalError(refusal) from None


class FormParser(parsers.BaseParser):
    """DRF's URL-encoded form parser, with Django's size and field-count limits as 4xx."""

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None) -> QueryDict:
        parser_context = parser_context or {}
        raw = read_body(stream, parser_context)
        try:
            return body.parse_form(raw, parser_context.get("encoding") or "utf-8")
        except Refusal as refusal:
            raise RefusalError(refusal) from None


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
