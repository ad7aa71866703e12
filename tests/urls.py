"""The example project's URLs plus views that only the tests need."""

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.viewsets import ViewSet

import django_doubletoken
from django_doubletoken import services, tokens
from django_doubletoken.decorators import bearer_auth, sliding_exempt
from django_doubletoken.http import bearer_token
from django_doubletoken.mixins import BearerAuthMixin
from django_doubletoken.throttling import LoginRateThrottle
from example_project.urls import urlpatterns as example_urlpatterns

from . import extension_views, stepup_views
from .adrf_views import AdrfMe
from .ninja_api import api as ninja_test_api
from .ninja_api import bare_api as ninja_bare_api


def plain_view(request):
    return HttpResponse("plain")


async def async_plain_view(request):
    return HttpResponse("async plain")


def plain_error_view(request):
    return JsonResponse({"error": "nope"}, status=400)


def unauthorized_view(request, code):
    """A 401 with any code, for the clients' tests of what each code makes them do."""
    return JsonResponse({"detail": "Answered on purpose.", "code": code}, status=401,
                        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


@api_view(["GET"])
@authentication_classes([SessionAuthentication])
def session_auth_view(request):
    return Response({"username": request.user.get_username()})


@api_view(["GET"])
def whoami_pk(request):
    """Touches only request.user.pk: must not load the user row."""
    return Response({"pk": request.user.pk, "sid": request.auth.session_id})


@api_view(["GET"])
def exposing_view(request):
    """Sets its own exposed header, as django-cors-headers would."""
    return Response({}, headers={"Access-Control-Expose-Headers": "X-Request-Id"})


# The forms sliding_exempt takes (tests/test_sliding_exempt.py).
@sliding_exempt
def exempt_plain_view(request):
    return HttpResponse("exempt plain")


@sliding_exempt
async def exempt_async_view(request):
    return HttpResponse("exempt async")


@sliding_exempt
@api_view(["GET"])
def exempt_api_view(request):
    return Response({"pk": request.user.pk})


class ExemptAPIView(APIView):
    sliding_exempt = True

    def get(self, request):
        return Response({"pk": request.user.pk})


@method_decorator(sliding_exempt, name="dispatch")
class ExemptDjangoView(View):
    def get(self, request):
        return HttpResponse("exempt class")


@sliding_exempt
class ExemptViewSet(ViewSet):
    def list(self, request):
        return Response([request.user.pk])


# Plain Django views authenticating the Bearer token (tests/test_plain_views.py).
def _who(request):
    user = request.user
    return {"authenticated": user.is_authenticated, "pk": user.pk,
            "sid": request.auth.session_id if getattr(request, "auth", None) else None}


@bearer_auth
def bearer_view(request):
    return JsonResponse(_who(request))


@bearer_auth
def bearer_username_view(request):
    return JsonResponse({"username": request.user.get_username()})


@bearer_auth(required=False)
def bearer_optional_view(request):
    return JsonResponse(_who(request))


@bearer_auth
async def bearer_async_view(request):
    user = await request.auser()
    return JsonResponse({"pk": user.pk, "sid": request.auth.session_id})


class BearerClassView(BearerAuthMixin, View):
    def get(self, request):
        return JsonResponse(_who(request))

    def post(self, request):
        return JsonResponse(_who(request))


class BearerAsyncClassView(BearerAuthMixin, View):
    async def get(self, request):
        return JsonResponse(_who(request))


# Views that revoke the session of their own request (tests/test_self_revocation.py).
def _change_password(user_pk):
    user = get_user_model()._default_manager.get(pk=user_pk)
    user.set_password("a brand new passphrase")
    user.save()


@bearer_auth
def bearer_change_password_view(request):
    _change_password(request.user.pk)
    return JsonResponse({"changed": True})


@bearer_auth
async def bearer_async_logout_view(request):
    await sync_to_async(services.revoke_session)(request.auth.session_id, "logout")
    return JsonResponse({"logged_out": True})


async def async_unauthenticated_logout_view(request):
    """Revokes the session of the bearer token it never authenticated itself."""
    sid = tokens.decode_access(bearer_token(request)).sid
    await sync_to_async(services.revoke_session)(sid, "logout")
    return JsonResponse({"logged_out": True})


@api_view(["POST"])
def change_password_view(request):
    _change_password(request.user.pk)
    return Response({"changed": True})


def anonymous_plain_view(request):
    return JsonResponse({"authenticated": request.user.is_authenticated})


@api_view(["GET"])
def claims_view(request):
    """request.auth.claims: the project's claims and the app's, read like a dict."""
    claims = request.auth.claims
    return Response({"roles": claims.get("roles"), "custom": dict(claims.custom),
                     "sid": claims["sid"]})


@csrf_exempt
def plain_login_view(request):
    """A plain Django view signing a user in with the public API (e.g. after a magic link)."""
    user = get_user_model()._default_manager.get(username=request.POST["username"])
    return django_doubletoken.login_response(request, user, device="magic link",
                                             client=request.POST.get("client"))


@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
def echo_view(request):
    """A project's own view with the project's parser settings."""
    return Response({"type": type(request.data).__name__})


class DefaultHandlerThrottledView(APIView):
    """A project's own view using the login throttle under DRF's stock exception handler."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    def get_exception_handler(self):
        return drf_exception_handler

    def post(self, request):
        return Response({})


urlpatterns = [
    *example_urlpatterns,
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("plain/", plain_view),
    path("async-plain/", async_plain_view),
    path("plain-error/", plain_error_view),
    path("__test__/unauthorized/<str:code>/", unauthorized_view),
    path("claims/", claims_view),
    path("plain-login/", plain_login_view),
    path("exempt/plain/", exempt_plain_view),
    path("bearer/", bearer_view),
    path("bearer/username/", bearer_username_view),
    path("bearer/optional/", bearer_optional_view),
    path("bearer/async/", bearer_async_view),
    path("bearer/class/", BearerClassView.as_view()),
    path("bearer/async-class/", BearerAsyncClassView.as_view()),
    path("anonymous-plain/", anonymous_plain_view),
    path("self-revoking/plain-password/", bearer_change_password_view),
    path("self-revoking/async-logout/", bearer_async_logout_view),
    path("self-revoking/async-unauthenticated/", async_unauthenticated_logout_view),
    path("self-revoking/drf-password/", change_password_view),
    path("exempt/async/", exempt_async_view),
    path("exempt/api-view/", exempt_api_view),
    path("exempt/api-class/", ExemptAPIView.as_view()),
    path("exempt/django-class/", ExemptDjangoView.as_view()),
    path("exempt/viewset/", ExemptViewSet.as_view({"get": "list"})),
    path("session-auth/", session_auth_view),
    path("whoami-pk/", whoami_pk),
    path("exposing/", exposing_view),
    path("echo/", echo_view),
    path("default-handler-throttled/", DefaultHandlerThrottledView.as_view()),
    path("ninja-tests/", ninja_test_api.urls),
    path("adrf/me/", AdrfMe.as_view()),
    path("ninja-bare/", ninja_bare_api.urls),
    path("ext/login-with-user/", extension_views.LoginWithUserView.as_view()),
    path("ext/magic-link-login/", extension_views.MagicLinkLoginView.as_view()),
    path("ext/shop-login/", extension_views.ShopLoginView.as_view()),
    path("ext/shop-logout/", extension_views.ShopLogoutView.as_view()),
    path("ext/shop-refresh/", extension_views.shop_refresh_view),
    path("ext/ninja/", extension_views.ninja_api.urls),
    path("ext/shop-plain/", extension_views.shop_plain_view),
    path("ext/shop-plain-class/", extension_views.ShopPlainClassView.as_view()),
    *stepup_views.urlpatterns,
]
