"""The Ninja auth classes and the error rendering they share with the DRF face.

Both classes verify exactly as ``DoubleTokenAuthentication`` does (one decode, one cache round
trip, no query) and leave the same traces: ``request.auth`` is the ``AccessGrant``,
``request.user`` a lazy ``TokenUser``, and the grant is stored where the sliding middleware
looks for it, so Ninja responses get ``NEW_HTTP_AUTHORIZATION`` like DRF ones.
"""

from __future__ import annotations

from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer

from .. import bearer, services
from ..api_errors import error_body, error_fields, error_headers, error_status
from ..bearer import TokenUser
from ..database import is_outage, note_schema_error
from ..endpoints import Refusal
from ..errors import (
    DATABASE_UNAVAILABLE,
    NOT_AUTHENTICATED,
    DoubleTokenError,
    ServiceUnavailable,
)
from ..http import (
    DEFAULT_REALM,
    GRANT_ATTRIBUTE,
    REJECTED_ATTRIBUTE,
    bearer_challenge,
    challenge_scheme,
)
from ..services import AccessGrant

# Set on the request by the auth class that refused it, so that the error handlers answer with
# that class' realm.
CHALLENGE_ATTRIBUTE = "doubletoken_challenge"


def _scheme(request: HttpRequest) -> str:
    return getattr(request, CHALLENGE_ATTRIBUTE, None) or bearer_challenge()


class NinjaTokenError(HttpError):
    """A ``DoubleTokenError`` raised under Ninja.

    An ``HttpError`` so that an API without ``register_error_handlers`` still answers with the
    right status and message (never a 500); with the handlers the body gets its ``code`` and a
    401 its ``WWW-Authenticate`` header, as from the DRF views.
    """

    def __init__(self, error: DoubleTokenError) -> None:
        self.error = error
        super().__init__(error_status(error.code), str(error.message))


def error_response(api: Any, request: HttpRequest, error: DoubleTokenError) -> HttpResponse:
    """The error contract's response: status, body and challenge as ``api_errors`` maps them."""
    return _rendered(api, request, error.code, error.message, error)


def _rendered(api: Any, request: HttpRequest, code: str, message: Any = None,
              error: DoubleTokenError | None = None) -> HttpResponse:
    body = error_body(code, message) if error is None else error_fields(error)
    response = api.create_response(request, body, status=error_status(code))
    for name, value in error_headers(error or DoubleTokenError(code), _scheme(request)).items():
        response[name] = value
    return response


def register_error_handlers(api: Any) -> Any:
    """Render the app's errors on ``api`` as the DRF endpoints do; returns ``api``.

    Also gives Ninja's own "no credentials" 401 the same shape: ``code`` ``not_authenticated``
    and a ``WWW-Authenticate`` challenge (RFC 6750 §3); and, as the DRF exception handler does,
    turns an unreachable or locked database into a 503 ``database_unavailable``, not a 500
    (a missing table is re-raised: Django's 500, logged, with the traceback under DEBUG).
    """

    def refusal(request: HttpRequest, exc: Refusal) -> HttpResponse:
        return exc.answer.as_response(request)

    def token_error(request: HttpRequest, exc: NinjaTokenError) -> HttpResponse:
        return error_response(api, request, exc.error)

    def domain_error(request: HttpRequest, exc: DoubleTokenError) -> HttpResponse:
        return error_response(api, request, exc)

    def not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return _rendered(api, request, NOT_AUTHENTICATED)

    def database_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        if not is_outage(exc):
            note_schema_error(exc)
            raise exc
        return error_response(api, request, ServiceUnavailable(DATABASE_UNAVAILABLE))

    api.add_exception_handler(Refusal, refusal)
    api.add_exception_handler(NinjaTokenError, token_error)
    api.add_exception_handler(OperationalError, database_error)
    api.add_exception_handler(InterfaceError, database_error)
    api.add_exception_handler(DoubleTokenError, domain_error)
    api.add_exception_handler(AuthenticationError, not_authenticated)
    return api


def _accepted(auth: DoubleTokenAuth, request: HttpRequest, grant: AccessGrant) -> AccessGrant:
    try:
        user = TokenUser(services.user_pk(grant.claims.sub))
    except DoubleTokenError as exc:
        raise auth.rejected(request, exc) from exc
    request.user = user

    async def auser() -> TokenUser:  # what async views call instead of request.user
        return user

    request.auser = auser
    setattr(request, GRANT_ATTRIBUTE, grant)
    return grant


class DoubleTokenAuth(HttpBearer):
    """``Authorization: Bearer <access token>`` for Ninja operations (sync); where a profile
    has DPoP on, ``Authorization: DPoP <access token>`` with its ``DPoP`` proof too."""

    openapi_bearerFormat = "JWT"
    openapi_description = (
        "Access token from the auth router's login or refresh. Near expiry, responses carry "
        "a replacement in the NEW_HTTP_AUTHORIZATION header."
    )

    # The realm of this API's WWW-Authenticate challenges.
    www_authenticate_realm = DEFAULT_REALM

    def __call__(self, request: HttpRequest) -> Any:
        # Also when no token came: the error handlers' "not authenticated" 401 names the realm.
        setattr(request, CHALLENGE_ATTRIBUTE,
                challenge_scheme(request, self.www_authenticate_realm))
        try:
            found = bearer.credentials(request)  # Bearer, or DPoP where it is on
        except DoubleTokenError as exc:
            raise self.rejected(request, exc) from exc
        if found is None:
            return None  # another auth class may take it; else Ninja answers 401
        return self.authenticate(request, found[0])

    def rejected(self, request: HttpRequest, error: DoubleTokenError) -> NinjaTokenError:
        setattr(request, REJECTED_ATTRIBUTE, True)
        return NinjaTokenError(error)

    def authenticate(self, request: HttpRequest, token: str) -> AccessGrant:
        try:
            grant = bearer.verify(request, token)  # with the request's DPoP proof
        except DoubleTokenError as exc:
            raise self.rejected(request, exc) from exc
        return _accepted(self, request, grant)


class AsyncDoubleTokenAuth(DoubleTokenAuth):
    """The same for async operations: the cache is read with its async API, no thread hop."""

    async def authenticate(self, request: HttpRequest, token: str) -> AccessGrant:
        try:
            grant = await bearer.averify(request, token)
        except DoubleTokenError as exc:
            raise self.rejected(request, exc) from exc
        return _accepted(self, request, grant)
