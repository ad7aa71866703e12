from django.contrib import admin
from django.urls import include, path

from .api import MeView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/", include("django_doubletoken.urls")),
    path("api/me/", MeView.as_view(), name="me"),
]
