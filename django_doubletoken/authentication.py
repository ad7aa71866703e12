"""The DRF authentication class: ``Authorization: Bearer <access token>``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from . import services
from .api_errors import APIError
from .errors import DoubleTokenError
from .http import GRANT_ATTRIBUTE, REJECTED_ATTRIBUTE, bearer_token
from .services import AccessGrant


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
        return _authenticated(request, services.authenticate_access(raw))
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


class DoubleTokenAuthentication(BaseAuthentication):
    """Authenticates an access token: ``request.user`` is a ``TokenUser``, ``request.auth``
    an ``AccessGrant`` (``.claims``, ``.session_id``)."""

    www_authenticate_realm = "api"

    def authenticate(self, request: Request) -> tuple[TokenUser, AccessGrant] | None:
        try:
            return authenticate_bearer(request._request)
        except DoubleTokenError as error:
            raise APIError(error, self.authenticate_header(request)) from error

    def authenticate_header(self, request: Request) -> str:
        """The challenge of every 401 the app answers (RFC 6750 §3), refused tokens included."""
        return f'Bearer realm="{self.www_authenticate_realm}"'
