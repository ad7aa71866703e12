"""The example project's URLs plus views that only the tests need."""

from django.http import HttpResponse, JsonResponse
from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from django_doubletoken.throttling import LoginRateThrottle
from example_project.urls import urlpatterns as example_urlpatterns

from .ninja_api import api as ninja_test_api
from .ninja_api import bare_api as ninja_bare_api


def plain_view(request):
    return HttpResponse("plain")


async def async_plain_view(request):
    return HttpResponse("async plain")


def plain_error_view(request):
    return JsonResponse({"error": "nope"}, status=400)


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
    path("session-auth/", session_auth_view),
    path("whoami-pk/", whoami_pk),
    path("exposing/", exposing_view),
    path("echo/", echo_view),
    path("default-handler-throttled/", DefaultHandlerThrottledView.as_view()),
    path("ninja-tests/", ninja_test_api.urls),
    path("ninja-bare/", ninja_bare_api.urls),
]
