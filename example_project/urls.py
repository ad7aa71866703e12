from django.contrib import admin
from django.urls import include, path

from .account import AccountView, GuardedLogoutOthersView, PasswordView
from .api import ExportView, MeView, SignupView
from .email_change import EmailView
from .ninja_api import api as ninja_api
from .pages import demo

urlpatterns = [
    path("", demo, name="demo"),
    path("admin/", admin.site.urls),
    # Before the app's URLs: this project asks for a recent sign-in there (account.py).
    path("api/auth/logout-others/", GuardedLogoutOthersView.as_view(), name="logout-others"),
    path("api/auth/", include("django_doubletoken.urls")),
    path("api/me/", MeView.as_view(), name="me"),
    path("api/export/", ExportView.as_view(), name="export"),
    path("api/signup/", SignupView.as_view(), name="signup"),
    path("api/password/", PasswordView.as_view(), name="password"),
    path("api/account/", AccountView.as_view(), name="account"),
    path("api/email/", EmailView.as_view(), name="email"),
    path("api/ninja/", ninja_api.urls),
]
