"""The DRF authentication class: ``Authorization: Bearer <access token>``."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from .api_errors import APIError
from .bearer import TokenUser, aauthenticate_bearer, authenticate_bearer
from .errors import DoubleTokenError
from .http import DEFAULT_REALM, bearer_challenge
from .services import AccessGrant

# At home in ``bearer`` (no DRF); importable from here as before.
__all__ = ["DoubleTokenAuthentication", "TokenUser", "aauthenticate_bearer", "authenticate_bearer"]


class DoubleTokenAuthentication(BaseAuthentication):
    """Authenticates an access token: ``request.user`` is a ``TokenUser``, ``request.auth``
    an ``AccessGrant`` (``.claims``, ``.session_id``)."""

    www_authenticate_realm = DEFAULT_REALM

    def authenticate(self, request: Request) -> tuple[TokenUser, AccessGrant] | None:
        try:
            return authenticate_bearer(request._request)
        except DoubleTokenError as error:
            raise APIError(error, self.authenticate_header(request)) from error

    def authenticate_header(self, request: Request) -> str:
        """The challenge of every 401 the app answers (RFC 6750 §3), refused tokens included."""
        return bearer_challenge(self.www_authenticate_realm)
