"""Per-view control of the sliding middleware, free of DRF so that any face can use it.

``sliding_exempt`` is public as ``django_doubletoken.decorators.sliding_exempt``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

View = TypeVar("View", bound=Callable[..., Any])

SLIDING_EXEMPT = "sliding_exempt"


def sliding_exempt(view: View) -> View:
    """Never send ``NEW_TOKEN_HEADER`` from this view: file downloads, webhooks, public pages,
    responses a cache or a third party keeps.

    Takes a view function, DRF ``@api_view`` function or ``as_view()`` result (put it above
    ``@api_view``), or a view class (Django's ``View``, DRF's ``APIView`` and viewsets);
    ``@method_decorator(sliding_exempt, name="dispatch")`` works too. On a class, setting
    ``sliding_exempt = True`` is the same. The token is still authenticated as usual; it is
    only not replaced, so the client gets a new one from the next view that does slide, or
    refreshes.
    """
    setattr(view, SLIDING_EXEMPT, True)
    return view


def is_sliding_exempt(view: Callable[..., Any] | None) -> bool:
    """Whether the resolved view (``request.resolver_match.func``) opted out."""
    if view is None:
        return False
    # as_view() keeps its class as view_class (Django) or cls (DRF's viewsets).
    view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
    return bool(getattr(view, SLIDING_EXEMPT, False) or getattr(view_class, SLIDING_EXEMPT, False))
