"""The DRF endpoints. Each one validates input, calls a service and shapes the answer."""

from __future__ import annotations

import uuid

from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import cookies, services
from .authentication import DoubleTokenAuthentication
from .exception_handler import exception_handler
from .keys import key_ring
from .models import DeviceSession, RevokeReason
from .parsers import PARSER_CLASSES
from .serializers import (
    DeviceSessionSerializer,
    VerifyResponseSerializer,
    VerifySerializer,
    login_serializer_class,
    validated_refresh_token,
)
from .shortcuts import login_response, token_response
from .throttling import LoginRateThrottle


class DoubleTokenView(APIView):
    # Bounded parsers whatever the project's DEFAULT_PARSER_CLASSES: every bad body is a 4xx.
    parser_classes = PARSER_CLASSES

    def get_exception_handler(self):
        return exception_handler


class PublicTokenView(DoubleTokenView):
    """Endpoints that take credentials in the body, not from an Authorization header."""

    authentication_classes = ()
    permission_classes = (AllowAny,)


class SessionTokenView(DoubleTokenView):
    """Endpoints acting on the session of the request's access token."""

    authentication_classes = (DoubleTokenAuthentication,)
    permission_classes = (IsAuthenticated,)


class LoginView(PublicTokenView):
    throttle_classes = (LoginRateThrottle,)

    def get_serializer(self, *args, **kwargs):
        """The configured login serializer (``LOGIN_SERIALIZER``), as GenericAPIView would."""
        kwargs.setdefault("context", {"request": self.request, "view": self})
        return login_serializer_class()(*args, **kwargs)

    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return login_response(
            request, data["user"], client=data.get("client"), device=data.get("device") or ""
        )


class RefreshView(PublicTokenView):
    """Takes the refresh token from the body, or else (cookie transport) from its cookie."""

    def post(self, request: Request) -> Response:
        data = request.data
        from_cookie = False
        if isinstance(data, dict) and "refresh" not in data:
            raw = cookies.refresh_token_from_cookie(request._request)
            if raw is not None:
                data, from_cookie = {"refresh": raw}, True
        # RefreshSerializer's validation (and its 400s) without building one per request.
        pair = services.refresh(validated_refresh_token(data), request=request._request)
        return token_response(pair, request, use_cookie=from_cookie)


class VerifyView(PublicTokenView):
    """Checks an access token exactly as authentication would, revocation included."""

    def post(self, request: Request) -> Response:
        serializer = VerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        grant = services.authenticate_access(serializer.validated_data["token"])
        return Response(VerifyResponseSerializer(grant).data)


def logged_out() -> Response:
    response = Response(status=status.HTTP_204_NO_CONTENT)
    cookies.delete_refresh_cookie(response)
    return response


class JWKSView(PublicTokenView):
    """The public keys of asymmetric algorithms (RFC 7517), for services verifying our access
    tokens. With an HMAC algorithm there is nothing public to serve: 404."""

    def get(self, request: Request) -> Response:
        ring = key_ring()
        if not ring.asymmetric:
            raise NotFound("No public keys: the signing algorithm is symmetric.")
        return Response({"keys": ring.jwks}, headers={"Cache-Control": "public, max-age=300"})


class LogoutView(SessionTokenView):
    def post(self, request: Request) -> Response:
        services.revoke_session(request.auth.session_id, RevokeReason.LOGOUT)
        return logged_out()


class LogoutAllView(SessionTokenView):
    def post(self, request: Request) -> Response:
        services.revoke_user_sessions(request.user.pk, RevokeReason.LOGOUT_ALL)
        return logged_out()


class SessionListView(SessionTokenView):
    def get(self, request: Request) -> Response:
        sessions = DeviceSession.objects.active().filter(user_id=request.user.pk)
        serializer = DeviceSessionSerializer(
            sessions, many=True, context={"current_session_id": request.auth.session_id}
        )
        return Response(serializer.data)


class SessionDetailView(SessionTokenView):
    def delete(self, request: Request, session_id: str) -> Response:
        try:
            uuid.UUID(session_id)
        except ValueError:
            raise NotFound() from None
        mine = DeviceSession.objects.filter(pk=session_id, user_id=request.user.pk)
        if not mine.exists():
            raise NotFound()
        services.revoke_sessions(mine, RevokeReason.REMOVED_BY_USER)
        return Response(status=status.HTTP_204_NO_CONTENT)
