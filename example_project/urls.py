from django.contrib import admin
from django.urls import include, path

from .api import ExportView, MeView, SignupView
from .ninja_api import api as ninja_api
from .pages import demo

urlpatterns = [
    path("", demo, name="demo"),
    path("admin/", admin.site.urls),
    path("api/auth/", include("django_doubletoken.urls")),
    path("api/me/", MeView.as_view(), name="me"),
    path("api/export/", ExportView.as_view(), name="export"),
    path("api/signup/", SignupView.as_view(), name="signup"),
    path("api/ninja/", ninja_api.urls),
]
