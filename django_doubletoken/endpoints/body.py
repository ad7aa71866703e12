"""Reading a request body into data, with the limits every face shares.

JSON (bounded in size by ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and in nesting depth), URL-encoded and
multipart forms (Django's size and field-count limits). Any other media type with a body is a
415; an empty body is no data. Every refusal is a 4xx with a ``code``: 400 ``parse_error``,
413 ``request_too_large``, 415 ``unsupported_media_type`` — never a 500 (JSON nested a
thousand levels deep overflows the parser's stack) or Django's HTML 400 page.

The DRF parsers in ``django_doubletoken.parsers`` are adapters over these functions.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext_lazy as _

from ..errors import PARSE_ERROR, REQUEST_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE
from .answers import Refusal

JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# No JSON body an API expects nests deeper.
MAX_JSON_DEPTH = 64


def parse_error(detail: Any) -> Refusal:
    return Refusal.coded(PARSE_ERROR, detail)


def too_large() -> Refusal:
    return Refusal.coded(REQUEST_TOO_LARGE,
                         _("The request body is larger than this server accepts."))


def refusal_of_django(exc: Exception) -> Refusal | None:
    """The refusal for one of Django's own refusals of a body; None for anything else."""
    if isinstance(exc, RequestDataTooBig):
        return too_large()
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return parse_error(str(exc))
    return None


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


def _too_deep(limit: int) -> Refusal:
    return parse_error(_("JSON parse error - nested deeper than %(limit)d levels.")
                       % {"limit": limit})


def parse_json(raw: bytes, encoding: str = "utf-8", *, max_depth: int = MAX_JSON_DEPTH,
               parse_constant: Any = None) -> Any:
    try:
        text = raw.decode(encoding)
        data = json.loads(text, parse_constant=parse_constant)
    except RecursionError:
        raise _too_deep(max_depth) from None
    except (ValueError, LookupError) as exc:
        raise parse_error(_("JSON parse error - %(error)s") % {"error": exc}) from None
    # The bracket count bounds the depth: most bodies need no walk at all.
    brackets = text.count("[") + text.count("{")
    if brackets > max_depth and nesting_depth_exceeds(data, max_depth):
        raise _too_deep(max_depth)
    return data


def parse_form(raw: bytes, encoding: str = "utf-8") -> QueryDict:
    try:
        return QueryDict(raw, encoding=encoding)
    except (TooManyFieldsSent, LookupError, ValueError) as exc:
        raise parse_error(_("Form parse error - %(error)s") % {"error": exc}) from None


def _body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RequestDataTooBig:
        raise too_large() from None


def _multipart(request: HttpRequest) -> QueryDict:
    try:
        return request.POST
    except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent) as exc:
        raise refusal_of_django(exc) from None
    except (MultiPartParserError, LookupError, ValueError) as exc:
        raise parse_error(_("Multipart form parse error - %(error)s") % {"error": exc}) from None


def request_data(request: HttpRequest) -> Any:
    """The request's body as data: what the JSON holds, or a ``QueryDict`` for a form; ``{}``
    for an empty body. ``Refusal`` for a body that cannot be read (see the module)."""
    content_type = request.META.get("CONTENT_TYPE", "")
    media_type, params = parse_header_parameters(content_type)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return QueryDict(encoding=request.encoding) if media_type in FORM_MEDIA_TYPES else {}
    encoding = params.get("charset") or "utf-8"
    if media_type == JSON_MEDIA_TYPE:
        return parse_json(_body(request), encoding)
    if media_type == "application/x-www-form-urlencoded":
        return parse_form(_body(request), encoding)
    if media_type == "multipart/form-data":
        return _multipart(request)
    raise Refusal.coded(UNSUPPORTED_MEDIA_TYPE,
                        _('Unsupported media type "{media_type}" in request.').format(
                            media_type=content_type))
