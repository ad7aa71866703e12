"""Plain Django views: ``bearer_auth`` / ``BearerAuthMixin``, and what the sliding middleware
does on views that did not authenticate the token."""

import asyncio

import pytest
from django.test import Client

from django_doubletoken import services, store
from django_doubletoken.errors import CACHE_UNAVAILABLE, ServiceUnavailable

from .helpers import access_token, bearer

pytestmark = pytest.mark.django_db

HEADER = "NEW_HTTP_AUTHORIZATION"
SYNC_VIEWS = ["/bearer/", "/bearer/class/"]


@pytest.mark.parametrize("path", SYNC_VIEWS)
def test_a_valid_token_authenticates_without_a_query(path, api, user, login, counting_cache,
                                                      django_assert_num_queries):
    pair = login()
    counting_cache.calls.clear()
    with django_assert_num_queries(0):
        response = api.get(path, **bearer(pair["access"]))
    assert response.status_code == 200
    assert response.json() == {"authenticated": True, "pk": user.pk, "sid": pair["session_id"]}
    assert counting_cache.calls == ["get_many"]


def test_the_user_row_is_loaded_only_when_read(api, user, login, django_assert_num_queries):
    pair = login()
    with django_assert_num_queries(1):
        response = api.get("/bearer/username/", **bearer(pair["access"]))
    assert response.json() == {"username": "alice"}


@pytest.mark.parametrize("path", [*SYNC_VIEWS, "/bearer/async/", "/bearer/async-class/"])
def test_refusals_follow_the_error_contract(path, api, user, login):
    pair = login()
    missing = api.get(path)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Authentication credentials were not provided.",
                              "code": "not_authenticated"}
    assert missing["WWW-Authenticate"] == 'Bearer realm="api"'

    garbage = api.get(path, HTTP_AUTHORIZATION="Bearer not.a.token")
    assert garbage.status_code == 401 and garbage.json()["code"] == "token_invalid"
    assert 'error="invalid_token"' in garbage["WWW-Authenticate"]

    expired = api.get(path, **bearer(access_token(pair, remaining=-60)))
    assert expired.json()["code"] == "token_expired"

    services.revoke_session(pair["session_id"], "logout")
    revoked = api.get(path, **bearer(access_token(pair, remaining=60)))
    assert revoked.status_code == 401 and revoked.json()["code"] == "session_revoked"
    assert HEADER not in revoked


def test_cache_down_is_a_503(api, user, login, monkeypatch):
    pair = login()

    def down(*args, **kwargs):
        raise ServiceUnavailable(CACHE_UNAVAILABLE)

    monkeypatch.setattr(store, "read_request_state", down)
    response = api.get("/bearer/", **bearer(pair["access"]))
    assert response.status_code == 503 and response.json()["code"] == "cache_unavailable"
    assert "WWW-Authenticate" not in response


@pytest.mark.parametrize("path", SYNC_VIEWS)
def test_near_expiry_slides_with_one_verification(path, api, user, login, counting_cache,
                                                  redis_wire):
    pair = login()
    counting_cache.calls.clear()
    redis_wire.clear()
    response = api.get(path, **bearer(access_token(pair, remaining=60)))
    assert response.status_code == 200 and response[HEADER]
    # The middleware reused the grant, whose read stored the successor: one round trip.
    assert [names for kind, names in redis_wire if kind == "send"] == [["MGET", "SET"]]
    assert counting_cache.calls == []


@pytest.mark.parametrize("path", ["/bearer/async/", "/bearer/async-class/"])
def test_async_views(path, async_client, user, login):
    pair = login()

    async def go(token):
        return await async_client.get(path, headers={"Authorization": f"Bearer {token}"})

    response = asyncio.run(go(access_token(pair, remaining=60)))
    assert response.status_code == 200, response.content
    assert response.json()["pk"] == user.pk and response.json()["sid"] == pair["session_id"]
    assert response[HEADER]


def test_optional_token(api, client, user, other_user, login, password):
    pair = login()
    anonymous = api.get("/bearer/optional/")
    assert anonymous.status_code == 200 and anonymous.json()["authenticated"] is False
    # A session (cookie) user stays the user when no token is sent...
    client.force_login(other_user)
    assert client.get("/bearer/optional/").json()["pk"] == other_user.pk
    # ...a token, when sent, is the user, and a bad one is refused even here.
    with_token = client.get("/bearer/optional/", **bearer(pair["access"]))
    assert with_token.json()["pk"] == user.pk
    assert client.get("/bearer/optional/", HTTP_AUTHORIZATION="Bearer x").status_code == 401


def test_required_token_views_need_no_csrf_token_optional_ones_do(user, login):
    pair = login()
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/bearer/class/", **bearer(pair["access"])).status_code == 200
    assert strict.post("/bearer/optional/", **bearer(pair["access"])).status_code == 403


def test_views_that_did_not_authenticate_the_token(api, user, login):
    """The documented middleware behaviour: the view sees no token user, the token is verified
    by the middleware and slid inside the window; a revoked one is left alone."""
    pair = login()
    response = api.get("/anonymous-plain/", **bearer(access_token(pair, remaining=60)))
    assert response.json() == {"authenticated": False} and response[HEADER]
    outside = api.get("/anonymous-plain/", **bearer(pair["access"]))
    assert HEADER not in outside
    services.revoke_session(pair["session_id"], "logout")
    revoked = api.get("/anonymous-plain/", **bearer(access_token(pair, remaining=60)))
    assert revoked.status_code == 200 and HEADER not in revoked
