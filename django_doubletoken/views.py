"""The DRF endpoints: each adapts one face-neutral endpoint of ``endpoints`` (the Ninja router
adapts the same ones). DRF authenticates the session endpoints and renders the answer; input
rules, the service call, status, body, headers, cookies and the throttle are the endpoint's.
"""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import endpoints, services
from .authentication import DoubleTokenAuthentication
from .conf import doubletoken_settings
from .endpoints import Answer, Refusal
from .exception_handler import exception_handler
from .http import bearer_challenge
from .negotiation import RememberedContentNegotiation
from .parsers import PARSER_CLASSES


def drf_response(answer: Answer, request: Request) -> Response:
    """An endpoint's answer as a DRF ``Response`` (rendered by the view's renderers)."""
    response = Response(answer.body, status=answer.status)
    return answer.finish(response, request._request)


class DoubleTokenView(APIView):
    # What DRF's schema generators read; the endpoint reads the body itself, within the same
    # limits (these parsers adapt its rules for a project's own views).
    parser_classes = PARSER_CLASSES
    # The realm of this view's 401 challenges when it has no authenticator of the app's.
    www_authenticate_realm = DoubleTokenAuthentication.www_authenticate_realm
    endpoint_class: type[endpoints.Endpoint]

    def get_exception_handler(self):
        return exception_handler

    def get_content_negotiator(self):
        # The project's own negotiation class, if it has one; DRF's default, remembered.
        if (getattr(self, "_negotiator", None) is None
                and self.content_negotiation_class is DefaultContentNegotiation):
            self._negotiator = RememberedContentNegotiation()
        return super().get_content_negotiator()

    def get_challenge(self) -> str:
        for authenticator in self.get_authenticators():
            if isinstance(authenticator, DoubleTokenAuthentication):
                return authenticator.challenge_scheme(self.request)
        return bearer_challenge(self.www_authenticate_realm)

    def get_endpoint_attributes(self) -> dict[str, Any]:
        return {"challenge": self.get_challenge()}

    def get_endpoint(self) -> endpoints.Endpoint:
        return self.endpoint_class(**self.get_endpoint_attributes())

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, Refusal):
            return drf_response(exc.answer, self.request)
        return super().handle_exception(exc)


class PublicTokenView(DoubleTokenView):
    """Endpoints that take credentials in the body, not from an Authorization header."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def answer(self, request: Request) -> Response:
        return drf_response(self.get_endpoint()(request._request), request)


class CredentialsInBodyView(PublicTokenView):
    """login/, refresh/, verify/: a POST with the credentials in its body."""

    def post(self, request: Request) -> Response:
        return self.answer(request)


class SessionTokenView(DoubleTokenView):
    """Endpoints acting on the session of the request's access token."""

    authentication_classes = (DoubleTokenAuthentication,)
    permission_classes = (IsAuthenticated,)

    def answer(self, request: Request, **kwargs: Any) -> Response:
        grant: services.AccessGrant = request.auth
        return drf_response(self.get_endpoint()(request._request, grant, **kwargs), request)


class LoginView(CredentialsInBodyView):
    """``POST login/``. Extend it by subclassing: ``serializer_class`` (default: the
    ``LOGIN_SERIALIZER`` setting) validates the body and authenticates the user;
    ``get_response_data(pair, user, request)`` returns the answer's body::

        class LoginView(views.LoginView):
            def get_response_data(self, pair, user, request):
                return {**super().get_response_data(pair, user, request),
                        "user": {"id": user.pk, "name": user.get_full_name()}}
    """

    endpoint_class = endpoints.Login
    serializer_class = None
    # The endpoint throttles logins itself (LOGIN_THROTTLE_RATE); DRF's defaults stay out.
    throttle_classes = ()

    def get_serializer_class(self) -> type:
        return self.serializer_class or doubletoken_settings.LOGIN_SERIALIZER

    def get_serializer(self, *args, **kwargs):
        """The login serializer with the view's context, as GenericAPIView would build it."""
        kwargs.setdefault("context", {"request": self.request, "view": self})
        return self.get_serializer_class()(*args, **kwargs)

    def get_response_data(self, pair: services.TokenPair, user: Any, request: Request
                          ) -> dict[str, Any]:
        return endpoints.token_pair_body(pair)

    def get_endpoint_attributes(self) -> dict[str, Any]:
        return {**super().get_endpoint_attributes(),
                "serializer_class": self.get_serializer_class(),
                "response_data": self.get_response_data, "context_request": self.request}


class RefreshView(CredentialsInBodyView):
    """``POST refresh/``: the refresh token from the body, or else (cookie transport) from its
    cookie."""

    endpoint_class = endpoints.Refresh


class VerifyView(CredentialsInBodyView):
    """``POST verify/``: checks an access token exactly as authentication would, revocation
    included."""

    endpoint_class = endpoints.Verify


class JWKSView(PublicTokenView):
    """The public keys of asymmetric algorithms (RFC 7517), for services verifying our access
    tokens. With an HMAC algorithm there is nothing public to serve: 404."""

    endpoint_class = endpoints.JWKS

    def get(self, request: Request) -> Response:
        return self.answer(request)


class LogoutView(SessionTokenView):
    endpoint_class = endpoints.Logout

    def post(self, request: Request) -> Response:
        return self.answer(request)


class LogoutAllView(SessionTokenView):
    endpoint_class = endpoints.LogoutAll

    def post(self, request: Request) -> Response:
        return self.answer(request)


class LogoutOthersView(SessionTokenView):
    """``POST logout-others/``: "sign out of all other devices"; this session goes on."""

    endpoint_class = endpoints.LogoutOthers

    def post(self, request: Request) -> Response:
        return self.answer(request)


class ReauthenticateView(SessionTokenView):
    """``POST reauthenticate/``: ``{"password": ...}`` (or ``{"method": ..., ...}``) gives the
    caller's session a new pair with a fresh ``auth_time`` (RFC 9470 step-up)."""

    endpoint_class = endpoints.Reauthenticate
    # The endpoint throttles attempts itself (per session); DRF's defaults stay out.
    throttle_classes = ()

    def post(self, request: Request) -> Response:
        return self.answer(request)


class SessionListView(SessionTokenView):
    endpoint_class = endpoints.SessionList

    def get(self, request: Request) -> Response:
        return self.answer(request)


class SessionDetailView(SessionTokenView):
    endpoint_class = endpoints.SessionDelete

    def delete(self, request: Request, session_id: str) -> Response:
        return self.answer(request, session_id=session_id)
