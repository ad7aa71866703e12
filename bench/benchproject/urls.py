"""Both stacks under their own prefix; each server serves the same URLs with its own
authentication class, so a stack is only ever loaded on its own prefix. The async views
(bench/asgi_path.py) exist on ours only."""

from django.urls import include, path
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from .settings import STACK
from .views import health, me, stateless_me

urlpatterns = [
    path("health/", health),
    path("ours/me/", me),
    path("ours/auth/", include("django_doubletoken.urls")),
    path("simplejwt/me/", me),
    path("simplejwt/stateless-me/", stateless_me),
    path("simplejwt/token/", TokenObtainPairView.as_view()),
    path("simplejwt/token/refresh/", TokenRefreshView.as_view()),
]

if STACK != "simplejwt":
    from .async_views import AdrfMe, ninja_api

    urlpatterns += [
        path("ours/adrf/me/", AdrfMe.as_view()),
        path("ours/ninja/", ninja_api.urls),
    ]
