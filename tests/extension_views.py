"""Views a project builds by subclassing the app's (tests/test_extension_points.py)."""

from django.http import JsonResponse
from django.views import View
from ninja import NinjaAPI
from rest_framework.decorators import api_view, authentication_classes
from rest_framework.response import Response

from django_doubletoken import endpoints, services, views
from django_doubletoken.authentication import DoubleTokenAuthentication
from django_doubletoken.decorators import bearer_auth
from django_doubletoken.mixins import BearerAuthMixin
from django_doubletoken.ninja import DoubleTokenAuth, auth_router, register_error_handlers

from .login_serializers import MagicLinkLoginSerializer


class LoginWithUserView(views.LoginView):
    """The three-line subclass the docs show: the user's data in the login answer."""

    def get_response_data(self, pair, user, request):
        return {**super().get_response_data(pair, user, request),
                "user": {"id": user.pk, "username": user.get_username()}}


class MagicLinkLoginView(views.LoginView):
    serializer_class = MagicLinkLoginSerializer


class ShopAuthentication(DoubleTokenAuthentication):
    www_authenticate_realm = "shop"


class ShopLoginView(views.LoginView):
    www_authenticate_realm = "shop"


class ShopLogoutView(views.LogoutView):
    authentication_classes = (ShopAuthentication,)


@api_view(["POST"])
@authentication_classes([ShopAuthentication])
def shop_refresh_view(request):
    """A project view calling a service that refuses: the handler answers in its realm."""
    services.refresh(request.data.get("refresh", "garbage"))
    return Response({})


class LoginWithUser(endpoints.Login):
    """The same for the Ninja router, on the endpoint layer."""

    def get_response_data(self, pair, user, request):
        return {**super().get_response_data(pair, user, request),
                "user": {"id": user.pk, "username": user.get_username()}}


class ShopAuth(DoubleTokenAuth):
    www_authenticate_realm = "shop"


ninja_api = NinjaAPI(urls_namespace="ninja-extension", auth=ShopAuth(), docs_url=None)
register_error_handlers(ninja_api)
ninja_api.add_router("/auth/", auth_router(auth=ShopAuth(), login=LoginWithUser()))


@ninja_api.get("/me")
def ninja_me(request):
    return {"pk": request.user.pk}


@bearer_auth(realm="shop")
def shop_plain_view(request):
    return JsonResponse({"pk": request.user.pk})


class ShopPlainClassView(BearerAuthMixin, View):
    www_authenticate_realm = "shop"

    def get(self, request):
        return JsonResponse({"pk": request.user.pk})
