"""Authenticating the Bearer access token of a Django request, for every face: the DRF
authentication class, the plain-view decorators and the Ninja auth classes all call these.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from . import services
from .errors import DoubleTokenError
from .http import GRANT_ATTRIBUTE, REJECTED_ATTRIBUTE, bearer_token
from .services import AccessGrant
from .sliding import is_sliding_exempt


class TokenUser(SimpleLazyObject):
    """The token's user, loaded from the database only when a view needs more than its pk.

    ``pk``, ``id``, ``is_authenticated``, ``is_anonymous`` and ``bool()`` answer without a query, so
    permission checks like ``IsAuthenticated`` and per-user filtering cost nothing. Any other
    attribute loads the row once. Inactive and deleted users never get here: deactivating or
    deleting a user revokes their sessions.
    """

    def __init__(self, pk: Any) -> None:
        model = get_user_model()
        super().__init__(lambda: model._default_manager.get(pk=pk))
        self.__dict__["_token_user_pk"] = pk

    @property
    def pk(self) -> Any:
        return self.__dict__["_token_user_pk"]

    id = pk

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def __bool__(self) -> bool:
        # IsAuthenticated tests ``bool(request.user)`` first; a user is always truthy.
        return True


def authenticate_bearer(request: HttpRequest) -> tuple[TokenUser, AccessGrant] | None:
    """Verify the request's Bearer access token: one JWT decode, one cache round trip, no
    database query. Its user and grant; None when there is no Bearer header; a
    ``DoubleTokenError`` when the token is refused. Either outcome is remembered on the
    request, so the sliding middleware reuses it instead of verifying again."""
    raw = _bearer(request)
    if raw is None:
        return None
    try:
        return _authenticated(
            request, services.authenticate_access(raw, slide=_will_slide(request)))
    except DoubleTokenError:
        setattr(request, REJECTED_ATTRIBUTE, True)
        raise


async def aauthenticate_bearer(request: HttpRequest) -> tuple[TokenUser, AccessGrant] | None:
    """``authenticate_bearer`` for async views: the cache is read with its async API."""
    raw = _bearer(request)
    if raw is None:
        return None
    try:
        return _authenticated(request, await services.aauthenticate_access(raw))
    except DoubleTokenError:
        setattr(request, REJECTED_ATTRIBUTE, True)
        raise


def _will_slide(request: HttpRequest) -> bool:
    """Whether the sliding middleware will consider this request's token: it handles the
    request and the resolved view did not opt out (the response's status is not known yet:
    the middleware withdraws a successor its response does not carry)."""
    if not services.sliding_request():
        return False
    match = getattr(request, "resolver_match", None)
    return not is_sliding_exempt(match.func if match is not None else None)


def _bearer(request: HttpRequest) -> str | None:
    try:
        return bearer_token(request)
    except DoubleTokenError:
        setattr(request, REJECTED_ATTRIBUTE, True)
        raise


def _authenticated(request: HttpRequest, grant: AccessGrant) -> tuple[TokenUser, AccessGrant]:
    user = TokenUser(services.user_pk(grant.claims.sub))
    setattr(request, GRANT_ATTRIBUTE, grant)
    return user, grant
