"""Both stacks under their own prefix; each gunicorn serves the same URLs with its own
authentication class, so a stack is only ever loaded on its own prefix."""

from django.urls import include, path
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

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
