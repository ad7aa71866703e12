"""Run with a custom user model (email as USERNAME_FIELD, UUID pk) and a lockout-style
backend: ``pytest --ds=tests.settings_custom_user tests/custom_user/checks_custom_user.py``.
tests/test_custom_user_model.py does that in a process of its own (the file name keeps the
main run from collecting it)."""

import uuid

import jwt
import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.cache import cache

from django_doubletoken.client import LoginFailed, RequestsAuth, TokenStore
from django_doubletoken.models import DeviceSession
from tests.helpers import KEY, access_token, bearer

pytestmark = pytest.mark.django_db

EMAIL = "alice@example.com"
HEADER = "NEW_HTTP_AUTHORIZATION"


@pytest.fixture
def user(password):
    return get_user_model().objects.create_user(EMAIL, password)


def _login(api, password, **extra):
    return api.post("/api/auth/login/", {"email": EMAIL, "password": password, **extra},
                    format="json")


def test_the_custom_model_is_in_use():
    model = get_user_model()
    assert model._meta.label == "custom_user.User" and model.USERNAME_FIELD == "email"


def test_login_takes_the_username_field(api, user, password):
    response = _login(api, password, device="laptop")
    assert response.status_code == 200, response.content
    pair = response.json()
    claims = jwt.decode(pair["access"], KEY, algorithms=["HS256"])
    assert claims["sub"] == str(user.pk) and uuid.UUID(claims["sub"])

    # "username" is accepted for USERNAME_FIELD, on both faces (issue 24 §2).
    for path in ("/api/auth/login/", "/api/ninja/auth/login/"):
        for field in ("email", "username"):
            aliased = api.post(path, {field: EMAIL, "password": password}, format="json")
            assert aliased.status_code == 200, (path, field, aliased.content)
    neither = api.post("/api/auth/login/", {"login": EMAIL, "password": password},
                       format="json")
    assert neither.status_code == 400 and "email" in neither.json()["errors"]
    wrong = api.post("/api/auth/login/", {"email": EMAIL, "password": "nope"}, format="json")
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"


def test_the_whole_lifecycle_with_a_uuid_pk(api, user, password, django_assert_num_queries):
    pair = _login(api, password).json()
    with django_assert_num_queries(0):
        who = api.get("/whoami-pk/", **bearer(pair["access"]))
    assert who.json() == {"pk": str(user.pk), "sid": pair["session_id"]}
    assert api.get("/api/me/", **bearer(pair["access"])).json() == {
        "id": str(user.pk), "username": EMAIL}

    slid = api.get("/whoami-pk/", **bearer(access_token(pair, remaining=60)))
    assert slid.status_code == 200 and slid[HEADER]

    refreshed = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 200
    access = refreshed.json()["access"]
    sessions = api.get("/api/auth/sessions/", **bearer(access)).json()
    assert [s["current"] for s in sessions] == [True]

    second = _login(api, password).json()
    assert api.post("/api/auth/logout-all/", **bearer(access)).status_code == 204
    gone = api.get("/whoami-pk/", **bearer(second["access"]))
    assert gone.status_code == 401 and gone.json()["code"] == "session_revoked"


def test_deactivating_the_user_revokes_the_sessions(api, user, password):
    pair = _login(api, password).json()
    user.is_active = False
    user.save()
    refused = api.get("/whoami-pk/", **bearer(pair["access"]))
    assert refused.json()["code"] == "session_revoked"
    assert DeviceSession.objects.get(pk=pair["session_id"]).revoke_reason
    assert _login(api, password).status_code == 401  # the backend refuses inactive users


def test_authenticate_gets_the_request_so_lockout_backends_work(api, user, password):
    for _ in range(3):
        assert _login(api, "wrong").json()["code"] == "invalid_credentials"
    locked = _login(api, password)  # the right password, from a locked-out address
    assert locked.status_code == 401 and locked.json()["code"] == "invalid_credentials"
    cache.clear()
    assert _login(api, password).status_code == 200


def test_the_openapi_schema_names_the_login_field(api):
    schema = api.get("/api/schema/?format=json").json()
    body = schema["paths"]["/api/auth/login/"]["post"]["requestBody"]["content"]
    ref = body["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = schema["components"]["schemas"][ref]
    assert "email" in fields["required"] and "username" not in fields["properties"]


@pytest.mark.django_db(transaction=True)
def test_the_python_client_with_another_username_field(live_server, user, password):
    store = TokenStore.login(live_server.url, EMAIL, password, username_field="email")
    me = requests.get(f"{live_server.url}/api/me/", auth=RequestsAuth(store), timeout=10)
    assert me.json()["username"] == EMAIL
    # "username" is accepted for the USERNAME_FIELD: the default needs no username_field.
    assert TokenStore.login(live_server.url, EMAIL, password).access
    with pytest.raises(LoginFailed) as failed:
        TokenStore.login(live_server.url, EMAIL, password, username_field="login")
    assert failed.value.status_code == 400 and failed.value.code == "invalid_input"
