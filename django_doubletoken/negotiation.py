"""DRF's default content negotiation, remembered: the app's endpoints answer every login and
refresh, and DRF parses the request's Accept header and matches it against each renderer's
media type anew each time, though the answer depends on nothing else but the renderers and a
format asked for in the URL. ``RememberedContentNegotiation`` keeps the answers (a few dozen
distinct Accept headers at most in practice, bounded all the same).
"""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation

# (renderer classes, format, Accept header) -> (renderer's index, media type)
_answers: dict[tuple[Any, ...], tuple[int, str]] = {}
MAX_REMEMBERED = 256


class RememberedContentNegotiation(DefaultContentNegotiation):
    """``DefaultContentNegotiation`` with its answers remembered; what it refuses (406, 404
    for an unknown format) it refuses every time, unremembered."""

    def select_renderer(self, request: Any, renderers: list[Any],
                        format_suffix: str | None = None) -> tuple[Any, str]:
        format_asked = format_suffix
        if not format_asked and request.META.get("QUERY_STRING"):
            format_asked = request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        key = (tuple(map(type, renderers)), format_asked, request.META.get("HTTP_ACCEPT"))
        known = _answers.get(key)
        if known is not None:
            index, media_type = known
            return renderers[index], media_type
        renderer, media_type = super().select_renderer(request, renderers, format_suffix)
        if len(_answers) >= MAX_REMEMBERED:
            _answers.clear()
        _answers[key] = (next(i for i, r in enumerate(renderers) if r is renderer), media_type)
        return renderer, media_type
