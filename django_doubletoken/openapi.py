"""drf-spectacular support (optional): the bearer scheme and every endpoint's shapes.

Imported by the app's ``ready()`` only when drf-spectacular is installed; the extensions
register themselves on import. The views stay free of schema decorators.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers

from .conf import api_settings
from .errors import MESSAGES
from .serializers import (
    DeviceSessionSerializer,
    RefreshSerializer,
    TokenPairResponseSerializer,
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
                f"replacement in the {api_settings.NEW_TOKEN_HEADER} header."
            ),
        }


class ErrorResponse(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.ChoiceField(choices=sorted([*MESSAGES, "not_authenticated"]))


class VerifyResponse(serializers.Serializer):
    valid = serializers.BooleanField()
    session_id = serializers.UUIDField()
    expires_at = serializers.IntegerField(help_text="Unix time")


class JWKSResponse(serializers.Serializer):
    keys = serializers.ListField(child=serializers.DictField())


ERRORS = {
    401: OpenApiResponse(ErrorResponse, description="Token, session or credentials refused"),
    503: OpenApiResponse(ErrorResponse, description="cache_unavailable: nothing changed"),
}
INVALID = {
    400: OpenApiResponse(description="Invalid body: field errors, or parse_error"),
    413: OpenApiResponse(description="request_too_large: over DATA_UPLOAD_MAX_MEMORY_SIZE"),
    415: OpenApiResponse(description="unsupported_media_type"),
}
CSRF = {403: OpenApiResponse(description="csrf_failed: cookie mode, cross-site request")}
NO_CONTENT = {204: OpenApiResponse(description="Done")}
NOT_FOUND = {404: OpenApiResponse(description="Not one of your sessions")}

DOCUMENTED_VIEWS: dict[str, dict[str, dict[str, Any]]] = {
    "LoginView": {"post": dict(
        # The request body is the view's get_serializer(): the configured LOGIN_SERIALIZER.
        summary="Log in: open a device session", auth=[],
        responses={200: TokenPairResponseSerializer, **INVALID, **CSRF, **ERRORS,
                   429: OpenApiResponse(description="throttled, with Retry-After")})},
    "RefreshView": {"post": dict(
        summary="Rotate the refresh token", auth=[], request=RefreshSerializer,
        responses={200: TokenPairResponseSerializer, **INVALID, **CSRF, **ERRORS})},
    "VerifyView": {"post": dict(
        summary="Check an access token, revocation included", auth=[],
        request=VerifySerializer, responses={200: VerifyResponse, **INVALID, **ERRORS})},
    "JWKSView": {"get": dict(
        summary="Public keys (asymmetric algorithms only)", auth=[],
        responses={200: JWKSResponse, 404: OpenApiResponse(description="HMAC: no public key")})},
    "LogoutView": {"post": dict(
        summary="Log out this session", request=None, responses={**NO_CONTENT, **ERRORS})},
    "LogoutAllView": {"post": dict(
        summary="Log out every session of the user", request=None,
        responses={**NO_CONTENT, **ERRORS})},
    "SessionListView": {"get": dict(
        summary="The user's signed-in devices",
        responses={200: DeviceSessionSerializer(many=True), **ERRORS})},
    "SessionDetailView": {"delete": dict(
        summary="Log out one of the user's devices",
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
