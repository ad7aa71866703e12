"""The DRF authentication class: ``Authorization: Bearer <access token>``, or ``DPoP
<access token>`` with its ``DPoP`` proof where a profile has DPoP on."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from .api_errors import APIError, challenge
from .bearer import TokenUser, aauthenticate_bearer, authenticate_bearer
from .errors import NOT_AUTHENTICATED, DoubleTokenError
from .http import DEFAULT_REALM, bearer_challenge, challenge_scheme
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
            raise APIError(error, self.challenge_scheme(request)) from error

    def authenticate_header(self, request: Request) -> str:
        """The challenge of a 401 without credentials (RFC 6750 §3; with DPoP on, RFC 9449
        §7.1's DPoP challenge beside it)."""
        return challenge(NOT_AUTHENTICATED, bearer_challenge(self.www_authenticate_realm)) or ""

    def challenge_scheme(self, request: Request) -> str:
        """The bare challenge refused tokens are answered with (``http.challenge_scheme``)."""
        return challenge_scheme(getattr(request, "_request", request), self.www_authenticate_realm)
