"""drf-spectacular support (optional): the bearer scheme and every endpoint's shapes.

Imported by the app's ``ready()`` only when drf-spectacular is installed; the extensions
register themselves on import. The views stay free of schema decorators, and every operation
gets a description written for API users (never a view's internal docstring).

For a project's own views authenticated by the access token, ``new_token_header()`` declares
the response header that may carry a slid access token::

    @extend_schema(parameters=[new_token_header()])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers

from .conf import doubletoken_settings
from .errors import ERROR_CODES
from .serializers import (
    DeviceSessionSerializer,
    RefreshSerializer,
    TokenPairResponseSerializer,
    VerifyResponseSerializer,
    VerifySerializer,
)


class DoubleTokenScheme(OpenApiAuthenticationExtension):
    target_class = "django_doubletoken.authentication.DoubleTokenAuthentication"
    name = "doubleTokenBearer"

    def get_security_definition(self, auto_schema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "Access token from login/ or refresh/. Near expiry, responses carry a "
                f"replacement in the {doubletoken_settings.NEW_TOKEN_HEADER} header."
            ),
        }


def error_code_field() -> serializers.ChoiceField:
    """The ``code`` of an error body: every code of the error contract, each described with
    its status and message, in the table's order."""
    described = "\n".join(f"- `{entry.code}` ({entry.status}): {entry.message}"
                          for entry in ERROR_CODES.values())
    return serializers.ChoiceField(
        choices=list(ERROR_CODES),
        help_text=f"One of the error contract's codes (errors.ERROR_CODES):\n\n{described}")


class ErrorResponse(serializers.Serializer):
    """The body of every error answer: ``{"detail": "...", "code": "..."}``."""

    detail = serializers.CharField(help_text="The message, for people (translated).")
    # Every code of the contract, not only those of the statuses attached below: a project's
    # throttling, parser or permission classes answer with the others through the same shape,
    # and a client generator must not reject a code the server sends.
    code = error_code_field()


class InvalidResponse(ErrorResponse):
    """A 400: ``parse_error`` (a body that does not parse), or ``invalid_input`` with each
    field's messages under ``errors``."""

    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="invalid_input only: each field's messages, DRF's shape "
                  "({\"<field>\": [\"<message>\", ...]}).")


class JWKSResponse(serializers.Serializer):
    keys = serializers.ListField(child=serializers.DictField())


class ReauthenticateRequest(serializers.Serializer):
    password = serializers.CharField(required=False, help_text=(
        "The user's password (method \"password\", the default)."))
    method = serializers.CharField(required=False, default="password", help_text=(
        "A method of REAUTHENTICATION_METHODS; its verifier reads the other fields it needs."))


class LogoutOthersResponse(serializers.Serializer):
    revoked = serializers.IntegerField(help_text="How many other sessions were signed out.")


ERRORS = {
    401: OpenApiResponse(ErrorResponse, description="Token, session or credentials refused"),
    503: OpenApiResponse(ErrorResponse, description="cache_unavailable: nothing changed"),
}
INVALID = {
    400: OpenApiResponse(InvalidResponse,
                         description="invalid_input (field errors), or parse_error"),
    413: OpenApiResponse(ErrorResponse,
                         description="request_too_large: over DATA_UPLOAD_MAX_MEMORY_SIZE"),
    415: OpenApiResponse(ErrorResponse, description="unsupported_media_type"),
}
CSRF = {403: OpenApiResponse(ErrorResponse,
                             description="csrf_failed: cookie mode, cross-site request")}
NO_CONTENT = {204: OpenApiResponse(description="Done")}
NOT_FOUND = {404: OpenApiResponse(description="Not one of your sessions")}


def new_token_header(status_codes: Iterable[int] = (200,)) -> OpenApiParameter:
    """The response header carrying a replacement access token (``NEW_TOKEN_HEADER``), for
    operations authenticated by an access token: on the given success statuses (error answers
    never carry it)."""
    return OpenApiParameter(
        name=doubletoken_settings.NEW_TOKEN_HEADER,
        type=OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        response=list(status_codes),
        description=(
            "Present when the access token sent was close to expiry: 'Bearer ' and a fresh "
            "access token. Send it as the Authorization header from now on; the token sent "
            "keeps working for the grace period, so requests already in flight succeed."
        ),
    )


LOGIN = """\
Checks the username and password with Django's authentication backends and opens a new device
session. Returns a short-lived access token (send it as `Authorization: Bearer <access>`) and a
long-lived refresh token for refresh/.

`client` picks a client profile (for example `web` or `mobile`, each with its own lifetimes);
`device` is a label shown in the user's device list. With cookie transport the refresh token is
set in an HttpOnly cookie instead of the body. Wrong credentials: 401 `invalid_credentials`.
Too many attempts from one address: 429."""

REFRESH = """\
Exchanges a refresh token for a new access token and a new refresh token. The refresh token
sent is used up: keep the new one. Presenting a used-up refresh token again after the grace
period means it was copied, so the whole session is logged out (401 `refresh_reused`).

With cookie transport, send an empty JSON body: the refresh token is read from its cookie. 401
`session_revoked`, `session_expired`, `refresh_reused` or `token_invalid`: log in again."""

VERIFY = """\
Checks an access token exactly as an authenticated request would — signature, expiry, and
whether its session was logged out — without acting on it. For other services that receive the
token. 200 with the session and the token's expiry (ISO 8601), else 401 with the reason in
`code`."""

JWKS = """\
The public keys that verify access tokens (JWKS, RFC 7517), for other services, when tokens are
signed with an asymmetric algorithm (RS256, ES256, EdDSA). With HS256 (the default) there is no
public key: 404."""

LOGOUT = """\
Logs out the session of the access token sent: its access and refresh tokens are refused from
the next request on. The user's other devices stay signed in."""

LOGOUT_ALL = """\
Logs the user out of every device, this one included: all their access and refresh tokens are
refused from the next request on."""

LOGOUT_OTHERS = """\
Signs the user out of every other device: their access and refresh tokens are refused from their
next request on, and their WebSockets close. This session goes on, with the same tokens."""

REAUTHENTICATE = """\
The user proves who they are again, without a new login: the password (`{"password": ...}`), or
a method the project registered (`{"method": "totp", ...}`). Returns a new token pair for the
same session, whose access token carries a fresh `auth_time` (and the method's `acr` / `amr`):
the answer to a 401 `insufficient_user_authentication` (RFC 9470 step-up). Keep the new refresh
token: the one held before is used up, as after refresh/. Wrong password: 401
`invalid_credentials`, the session unchanged. Too many attempts for this session: 429."""

SESSIONS = """\
The user's active sessions (signed-in devices), newest first. `current` marks the session
making this request."""

SESSION_DELETE = """\
Logs out one of the user's own sessions (for example a lost phone) by its `id` from sessions/.
Its tokens are refused from its next request on. 404 if the id is not one of the user's
sessions."""

DOCUMENTED_VIEWS: dict[str, dict[str, dict[str, Any]]] = {
    "LoginView": {"post": dict(
        # The request body is the view's get_serializer(): the configured LOGIN_SERIALIZER.
        summary="Log in: open a device session", description=LOGIN, auth=[],
        responses={200: TokenPairResponseSerializer, **INVALID, **CSRF, **ERRORS,
                   429: OpenApiResponse(description="throttled, with Retry-After")})},
    "RefreshView": {"post": dict(
        summary="Rotate the refresh token", description=REFRESH, auth=[],
        request=RefreshSerializer,
        responses={200: TokenPairResponseSerializer, **INVALID, **CSRF, **ERRORS})},
    "VerifyView": {"post": dict(
        summary="Check an access token, revocation included", description=VERIFY, auth=[],
        request=VerifySerializer, responses={200: VerifyResponseSerializer, **INVALID, **ERRORS})},
    "JWKSView": {"get": dict(
        summary="Public keys (asymmetric algorithms only)", description=JWKS, auth=[],
        responses={200: JWKSResponse, 404: OpenApiResponse(description="HMAC: no public key")})},
    # The two log-outs end the session, so their answers never carry a new token.
    "LogoutView": {"post": dict(
        summary="Log out this session", description=LOGOUT, request=None,
        responses={**NO_CONTENT, **ERRORS})},
    "LogoutAllView": {"post": dict(
        summary="Log out every session of the user", description=LOGOUT_ALL, request=None,
        responses={**NO_CONTENT, **ERRORS})},
    "LogoutOthersView": {"post": dict(
        summary="Log out every other session of the user", description=LOGOUT_OTHERS,
        request=None, parameters=[new_token_header([200])],
        responses={200: LogoutOthersResponse, **ERRORS})},
    # Answered with a new pair: never with a slid token as well.
    "ReauthenticateView": {"post": dict(
        summary="Re-authenticate this session (step-up)", description=REAUTHENTICATE,
        request=ReauthenticateRequest,
        responses={200: TokenPairResponseSerializer, **INVALID, **ERRORS,
                   429: OpenApiResponse(description="throttled, with Retry-After")})},
    "SessionListView": {"get": dict(
        summary="The user's signed-in devices", description=SESSIONS,
        parameters=[new_token_header([200])],
        responses={200: DeviceSessionSerializer(many=True), **ERRORS})},
    "SessionDetailView": {"delete": dict(
        summary="Log out one of the user's devices", description=SESSION_DELETE,
        parameters=[new_token_header([204])],
        responses={**NO_CONTENT, **NOT_FOUND, **ERRORS})},
}


def _extension_for(view_name: str, methods: dict[str, dict[str, Any]]) -> type:
    def view_replacement(self):
        documented = type(view_name, (self.target_class,), {})
        return extend_schema_view(
            **{method: extend_schema(tags=["auth"], **kwargs) for method, kwargs in
               methods.items()}
        )(documented)

    return type(
        f"{view_name}Schema",
        (OpenApiViewExtension,),
        {"target_class": f"django_doubletoken.views.{view_name}",
         "view_replacement": view_replacement},
    )


SCHEMA_EXTENSIONS = [_extension_for(name, methods) for name, methods in DOCUMENTED_VIEWS.items()]
