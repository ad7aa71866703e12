"""Views are the extension points (issue 25 §2): LoginView's serializer_class and
get_response_data, the endpoint layer's Login for Ninja, a subclass' www_authenticate_realm
honoured wherever a challenge is written, dotted-path settings resolved by the settings object.
"""

import pytest
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from django_doubletoken.conf import doubletoken_settings
from django_doubletoken.models import DeviceSession
from django_doubletoken.serializers import LoginSerializer

from . import claims_functions
from .helpers import access_token, bearer
from .login_serializers import MAGIC_SALT, MagicLinkLoginSerializer

pytestmark = pytest.mark.django_db

SHOP = 'Bearer realm="shop"'


def _post(path, body, **extra):
    return Client().post(path, body, content_type="application/json", **extra)


@pytest.mark.parametrize("path", ["/ext/login-with-user/", "/ext/ninja/auth/login/"])
def test_get_response_data_adds_the_user_to_the_login_answer(user, password, path):
    response = _post(path, {"username": "alice", "password": password})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["user"] == {"id": user.pk, "username": "alice"}
    assert {"access", "refresh", "session_id", "token_type"} <= set(body)
    assert response["Cache-Control"] == "no-store"
    assert DeviceSession.objects.filter(pk=body["session_id"], user=user).exists()


def test_the_default_login_answer_has_no_user(user, password):
    body = _post("/api/auth/login/", {"username": "alice", "password": password}).json()
    assert "user" not in body


def test_serializer_class_on_a_subclass_replaces_the_setting(user):
    code = signing.dumps(user.pk, salt=MAGIC_SALT)
    response = _post("/ext/magic-link-login/", {"code": code})
    assert response.status_code == 200, response.content
    session = DeviceSession.objects.get(pk=response.json()["session_id"])
    assert session.device == "magic link" and session.client == "mobile"
    # The app's own endpoint still uses LOGIN_SERIALIZER, which knows no "code".
    assert _post("/api/auth/login/", {"code": code}).status_code == 400


def test_a_subclass_realm_names_every_challenge(user, password, login):
    wrong = {"username": "alice", "password": "wrong"}
    assert _post("/ext/shop-login/", wrong)["WWW-Authenticate"] == SHOP
    assert _post("/api/auth/login/", wrong)["WWW-Authenticate"] == 'Bearer realm="api"'
    pair = login()
    expired = access_token(pair, remaining=-60)
    refused = Client().post("/ext/shop-logout/", **bearer(expired))
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith(f"{SHOP}, error=")
    assert Client().post("/ext/shop-logout/")["WWW-Authenticate"] == SHOP
    # A domain error raised inside a project view goes through the exception handler, which
    # asks the request's own authenticator (it built a fresh default one before).
    from_service = _post("/ext/shop-refresh/", {"refresh": "x.y.z"}, **bearer(pair["access"]))
    assert from_service.status_code == 401
    assert from_service["WWW-Authenticate"].startswith(f"{SHOP}, error=")


def test_a_ninja_auth_subclass_realm_names_every_challenge(user, password, login):
    pair = login()
    assert Client().get("/ext/ninja/me")["WWW-Authenticate"] == SHOP
    expired = Client().get("/ext/ninja/me", **bearer(access_token(pair, remaining=-60)))
    assert expired["WWW-Authenticate"].startswith(f"{SHOP}, error=")
    wrong = _post("/ext/ninja/auth/login/", {"username": "alice", "password": "wrong"})
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"] == SHOP
    garbage = _post("/ext/ninja/auth/refresh/", {"refresh": "x.y.z"})
    assert garbage["WWW-Authenticate"].startswith(f"{SHOP}, error=")


@pytest.mark.parametrize("path", ["/ext/shop-plain/", "/ext/shop-plain-class/"])
def test_plain_views_name_their_realm(user, login, path):
    pair = login()
    assert Client().get(path)["WWW-Authenticate"] == SHOP
    expired = Client().get(path, **bearer(access_token(pair, remaining=-60)))
    assert expired["WWW-Authenticate"].startswith(f"{SHOP}, error=")
    assert Client().get(path, **bearer(pair["access"])).json() == {"pk": user.pk}


def test_dotted_path_settings_are_resolved_by_the_settings_object(settings):
    assert doubletoken_settings.LOGIN_SERIALIZER is LoginSerializer
    assert doubletoken_settings.given("LOGIN_SERIALIZER") == (
        "django_doubletoken.serializers.LoginSerializer")
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN,
                            "LOGIN_SERIALIZER": "tests.login_serializers.MagicLinkLoginSerializer",
                            "ACCESS_TOKEN_CLAIMS": claims_functions.session_label}
    assert doubletoken_settings.LOGIN_SERIALIZER is MagicLinkLoginSerializer
    assert doubletoken_settings.ACCESS_TOKEN_CLAIMS is claims_functions.session_label
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_SERIALIZER": "tests.nowhere.Nothing"}
    with pytest.raises(ImproperlyConfigured, match="LOGIN_SERIALIZER"):
        getattr(doubletoken_settings, "LOGIN_SERIALIZER")  # noqa: B009 (read it, nothing more)
