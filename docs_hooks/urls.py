"""The URLconf the documentation build generates the HTTP API reference from."""

from django.urls import include, path

urlpatterns = [path("api/auth/", include("django_doubletoken.urls"))]
