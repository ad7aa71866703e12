from django.urls import path

from . import views

app_name = "django_doubletoken"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("refresh/", views.RefreshView.as_view(), name="refresh"),
    path("verify/", views.VerifyView.as_view(), name="verify"),
    path("jwks/", views.JWKSView.as_view(), name="jwks"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logout-all/", views.LogoutAllView.as_view(), name="logout-all"),
    path("logout-others/", views.LogoutOthersView.as_view(), name="logout-others"),
    path("reauthenticate/", views.ReauthenticateView.as_view(), name="reauthenticate"),
    path("sessions/", views.SessionListView.as_view(), name="sessions"),
    path("sessions/<str:session_id>/", views.SessionDetailView.as_view(), name="session"),
]
