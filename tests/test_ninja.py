"""django-ninja: the auth classes, the router and the sliding middleware on Ninja responses."""

import asyncio
import json

import jwt
import pytest
from django.test import Client

from django_doubletoken import services, store
from django_doubletoken.models import DeviceSession

from .helpers import KEY, access_token, bearer

pytestmark = pytest.mark.django_db

AUTH = "/api/ninja/auth/"
HEADER = "NEW_HTTP_AUTHORIZATION"
ENDPOINTS = ["/ninja-tests/sync", "/ninja-tests/async", "/ninja-tests/sync-auth-on-async-view",
             "/ninja-tests/async-auth-on-sync-view"]


@pytest.fixture
def http():
    return Client()


@pytest.fixture
def ninja_login(http, password):
    def _login(username="alice", **extra):
        response = http.post(f"{AUTH}login/", {"username": username, "password": password,
                                              **extra}, content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()
    return _login


def _assert_contract(response, code):
    assert response.status_code == 401, response.content
    assert response.json() == {"detail": response.json()["detail"], "code": code}
    assert response.json()["detail"]
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="api", error="invalid_token", error_description="{code}"')


def test_me_answers_like_the_drf_endpoint(http, user, ninja_login):
    pair = ninja_login()
    response = http.get("/api/ninja/me", **bearer(pair["access"]))
    assert response.status_code == 200, response.content
    assert response.json() == {"id": user.pk, "username": "alice"}
    assert response.json() == http.get("/api/me/", **bearer(pair["access"])).json()


@pytest.mark.parametrize("path", ENDPOINTS)
def test_request_auth_and_user_as_drf_gets_them_without_a_query(
        http, user, login, path, counting_cache, django_assert_num_queries):
    pair = login()
    http.get(path, **bearer(pair["access"]))  # last_used_at was just written at login
    counting_cache.calls.clear()
    with django_assert_num_queries(0):
        response = http.get(path, **bearer(pair["access"]))
    assert response.status_code == 200, response.content
    assert response.json() == {"pk": user.pk, "sid": pair["session_id"],
                               "grant": "AccessGrant", "user": "TokenUser"}
    assert counting_cache.calls in (["get_many"], ["aget_many"])


@pytest.mark.parametrize("path", ENDPOINTS)
def test_error_codes_and_www_authenticate(http, user, login, path):
    pair = login()
    _assert_contract(http.get(path, **bearer(access_token(pair, remaining=-60))),
                     "token_expired")
    _assert_contract(http.get(path, HTTP_AUTHORIZATION="Bearer not.a.jwt"), "token_invalid")
    _assert_contract(http.get(path, HTTP_AUTHORIZATION="Bearer two words"), "token_invalid")
    _assert_contract(http.get(path, **bearer(pair["refresh"])), "token_invalid")
    services.revoke_session(pair["session_id"], "logout")
    _assert_contract(http.get(path, **bearer(pair["access"])), "session_revoked")
    missing = http.get(path)
    assert missing.status_code == 401
    assert missing.json()["code"] == "not_authenticated"
    assert missing["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_api_without_the_handlers_still_answers_401_never_500(http, user, login):
    pair = login()
    response = http.get("/ninja-bare/sync", **bearer(access_token(pair, remaining=-60)))
    assert response.status_code == 401
    assert response.json() == {"detail": "The access token has expired."}
    assert http.get("/ninja-bare/sync", **bearer(pair["access"])).status_code == 200


@pytest.mark.parametrize("path", ["/ninja-tests/sync", "/api/ninja/me"])
def test_sliding_middleware_reissues_on_ninja_responses(http, user, login, path):
    pair = login()
    old = access_token(pair, remaining=60)
    response = http.get(path, **bearer(old))
    assert response.status_code == 200
    new = response[HEADER].removeprefix("Bearer ")
    assert jwt.decode(new, KEY, algorithms=["HS256"])["sid"] == pair["session_id"]
    assert http.get(path, **bearer(old))[HEADER] == response[HEADER]  # same successor
    assert HEADER not in http.get(path, **bearer(new))
    assert HEADER not in http.get(path, **bearer(access_token(pair, remaining=-60)))


def test_async_endpoint_slides_on_the_async_path(async_client, user, login, monkeypatch):
    pair = login()
    calls = []
    original = services.aauthenticate_access

    async def recording(*args, **kwargs):
        calls.append(args[0])
        return await original(*args, **kwargs)

    monkeypatch.setattr(services, "aauthenticate_access", recording)
    old = access_token(pair, remaining=60)

    async def go():
        return await async_client.get("/ninja-tests/async",
                                      headers={"Authorization": f"Bearer {old}"})

    response = asyncio.run(go())
    assert response.status_code == 200 and response[HEADER].startswith("Bearer ")
    assert calls == [old]  # verified once, by the async auth class; the middleware reused it


def test_an_async_endpoint_slides_in_one_round_trip(async_client, user, login, redis_wire):
    """The async auth class offers the successor within its read (one thread hop, one
    round trip: MGET and SET NX together); the middleware sends it without another."""
    pair = login()
    old = access_token(pair, remaining=60)

    async def go(token):
        return await async_client.get("/ninja-tests/async",
                                      headers={"Authorization": f"Bearer {token}"})

    redis_wire.clear()
    response = asyncio.run(go(old))
    assert response.status_code == 200 and response[HEADER].startswith("Bearer ")
    assert [names for kind, names in redis_wire if kind == "send"] == [["MGET", "SET"]]
    redis_wire.clear()
    again = asyncio.run(go(old))  # the same successor; this process offers none again
    assert again[HEADER] == response[HEADER]
    assert [names for kind, names in redis_wire if kind == "send"] == [["MGET"]]
    successor = response[HEADER].removeprefix("Bearer ")
    assert asyncio.run(go(successor)).status_code == 200


def test_an_async_endpoint_that_fails_withdraws_the_successor_it_stored(
    async_client, user, login, redis_wire
):
    """A response that does not carry the successor stored by the read deletes it: the old
    token keeps working past the grace window instead of being refused for a successor its
    client never got."""
    pair = login()
    old = access_token(pair, remaining=60)
    jti = jwt.decode(old, KEY, algorithms=["HS256"])["jti"]

    async def go():
        return await async_client.get("/ninja-tests/async-fails",
                                      headers={"Authorization": f"Bearer {old}"})

    redis_wire.clear()
    response = asyncio.run(go())
    assert response.status_code == 409 and HEADER not in response
    assert [names for kind, names in redis_wire if kind == "send"] == [["MGET", "SET"], ["DEL"]]
    assert store.cache().get(store.successor_key(pair["session_id"], jti)) is None


def test_router_login_refresh_verify_and_reuse(http, user, ninja_login):
    pair = ninja_login(device="Phone", client="mobile")
    session = DeviceSession.objects.get(pk=pair["session_id"])
    assert session.device == "Phone" and session.client == "mobile"
    assert set(pair) == {"access", "refresh", "token_type", "access_expires_at",
                         "refresh_expires_at", "session_id"}
    verified = http.post(f"{AUTH}verify/", {"token": pair["access"]},
                         content_type="application/json")
    assert verified.status_code == 200
    assert verified.json()["valid"] is True
    assert verified.json()["session_id"] == pair["session_id"]
    refreshed = http.post(f"{AUTH}refresh/", {"refresh": pair["refresh"]},
                          content_type="application/json")
    assert refreshed.status_code == 200 and refreshed["Cache-Control"] == "no-store"
    assert refreshed.json()["refresh"] != pair["refresh"]
    session.refresh_from_db()
    assert session.refresh_generation == 1
    # Past the grace window, the old refresh token is reuse: the session is revoked.
    DeviceSession.objects.filter(pk=session.pk).update(rotated_at=session.rotated_at.replace(
        year=session.rotated_at.year - 1))
    reused = http.post(f"{AUTH}refresh/", {"refresh": pair["refresh"]},
                       content_type="application/json")
    _assert_contract(reused, "refresh_reused")
    _assert_contract(http.get("/api/ninja/me", **bearer(refreshed.json()["access"])),
                     "session_revoked")


def test_router_rejects_bad_input_with_4xx(http, user, ninja_login, password):
    wrong = http.post(f"{AUTH}login/", {"username": "alice", "password": "nope"},
                      content_type="application/json")
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    assert wrong["WWW-Authenticate"] == 'Bearer realm="api"'
    # Field errors are a 400 invalid_input with DRF's {"field": [...]} under "errors", as from
    # the DRF endpoint (tests/contract.json holds the rest of the comparison).
    for body in ({"username": "alice", "password": password, "client": "fridge"},
                 {"username": ["alice"], "password": password}, {}):
        assert http.post(f"{AUTH}login/", body,
                         content_type="application/json").status_code == 400, body
    assert http.post(f"{AUTH}login/", "not json", content_type="application/json"
                     ).json()["code"] == "parse_error"
    long = "a" * 5000
    too_long = http.post(f"{AUTH}verify/", {"token": long}, content_type="application/json")
    assert too_long.json() == {"detail": "Some fields are missing or invalid; see errors.",
                               "code": "invalid_input",
                               "errors": {"token": ["The token is too long."]}}
    assert http.post(f"{AUTH}refresh/", {}, content_type="application/json").status_code == 400
    _assert_contract(http.post(f"{AUTH}refresh/", {"refresh": "x.y.z"},
                               content_type="application/json"), "token_invalid")
    _assert_contract(http.post(f"{AUTH}verify/", {"token": "x.y.z"},
                               content_type="application/json"), "token_invalid")


def test_router_sessions_logout_and_logout_all(http, user, ninja_login):
    first, second, third = ninja_login(device="A"), ninja_login(device="B"), ninja_login()
    listed = http.get(f"{AUTH}sessions/", **bearer(first["access"]))
    assert listed.status_code == 200
    rows = {row["id"]: row for row in listed.json()}
    assert set(rows) == {first["session_id"], second["session_id"], third["session_id"]}
    assert rows[first["session_id"]]["current"] is True
    assert rows[second["session_id"]]["current"] is False
    assert http.delete(f"{AUTH}sessions/not-a-uuid/", **bearer(first["access"])
                       ).status_code == 404
    assert http.delete(f"{AUTH}sessions/{'0' * 8}-0000-0000-0000-{'0' * 12}/",
                       **bearer(first["access"])).status_code == 404
    deleted = http.delete(f"{AUTH}sessions/{second['session_id']}/", **bearer(first["access"]))
    assert deleted.status_code == 204
    _assert_contract(http.get("/api/ninja/me", **bearer(second["access"])), "session_revoked")
    assert http.post(f"{AUTH}logout/", **bearer(first["access"])).status_code == 204
    assert DeviceSession.objects.get(pk=first["session_id"]).revoke_reason == "logout"
    _assert_contract(http.post(f"{AUTH}logout/", **bearer(first["access"])), "session_revoked")
    assert http.post(f"{AUTH}logout-all/", **bearer(third["access"])).status_code == 204
    assert not DeviceSession.objects.active().filter(user=user).exists()


def test_sessions_of_another_user_are_not_found(http, user, other_user, ninja_login):
    mine, theirs = ninja_login(), ninja_login("bob")
    response = http.delete(f"{AUTH}sessions/{theirs['session_id']}/", **bearer(mine["access"]))
    assert response.status_code == 404
    assert DeviceSession.objects.get(pk=theirs["session_id"]).revoked_at is None


def test_cookie_transport_through_the_router(settings, user, password):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "REFRESH_COOKIE_NAME": "dt_refresh"}
    browser = Client(enforce_csrf_checks=True)
    login = browser.post(f"{AUTH}login/", {"username": "alice", "password": password},
                         content_type="application/json")
    assert login.status_code == 200 and "refresh" not in login.json()
    cookie = login.cookies["dt_refresh"]
    assert cookie["httponly"] and cookie["path"] == f"{AUTH}refresh/"
    assert browser.post(f"{AUTH}refresh/", {}, content_type="application/json"
                        ).status_code == 403
    csrf = browser.cookies["csrftoken"].value
    refreshed = browser.post(f"{AUTH}refresh/", {}, content_type="application/json",
                             HTTP_X_CSRFTOKEN=csrf)
    assert refreshed.status_code == 200, refreshed.content
    assert refreshed.cookies["dt_refresh"].value != cookie.value
    logout = browser.post(f"{AUTH}logout/", **bearer(refreshed.json()["access"]))
    assert logout.status_code == 204 and logout.cookies["dt_refresh"]["max-age"] == 0
    # Login CSRF: a login that would set the cookie must come from this site, as JSON.
    body = {"username": "alice", "password": password}
    cross_site = browser.post(f"{AUTH}login/", body, content_type="application/json",
                              HTTP_ORIGIN="https://evil.example")
    assert cross_site.status_code == 403
    # JSON as text/plain: a "simple" cross-site request, no CORS preflight.
    simple = browser.post(f"{AUTH}login/", json.dumps(body), content_type="text/plain")
    assert simple.status_code == 415
    assert DeviceSession.objects.filter(user=user, revoked_at__isnull=True).count() == 0


def test_bearer_scheme_in_the_openapi_schema(http):
    schema = http.get("/api/ninja/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    # The example guards logout-others with a step-up auth: the same bearer token, its own
    # description (a recent authentication is needed).
    assert set(schemes) == {"DoubleTokenAuth", "StepUpAuth"}
    for scheme in schemes.values():
        assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
        assert scheme["bearerFormat"] == "JWT"
    name = "DoubleTokenAuth"
    assert schema["paths"]["/api/ninja/me"]["get"]["security"] == [{name: []}]
    others = schema["paths"]["/api/ninja/auth/logout-others/"]["post"]
    assert others["security"] == [{"StepUpAuth": []}]
    login = schema["paths"]["/api/ninja/auth/login/"]["post"]
    assert "security" not in login
    assert schema["paths"]["/api/ninja/auth/logout/"]["post"]["security"] == [{name: []}]


def test_login_throttle_is_shared_with_the_drf_endpoint(settings, http, user, password):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "2/min"}
    body = {"username": "alice", "password": "wrong"}
    assert http.post("/api/auth/login/", body, content_type="application/json"
                     ).status_code == 401
    assert http.post(f"{AUTH}login/", body, content_type="application/json").status_code == 401
    throttled = http.post(f"{AUTH}login/", body, content_type="application/json")
    assert throttled.status_code == 429
    assert http.post("/api/auth/login/", body, content_type="application/json"
                     ).status_code == 429


DEAD_CACHE = {"default": {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
    "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
}}


def test_cache_down_is_a_503_that_changes_nothing(http, user, ninja_login, password, settings):
    pair = ninja_login()
    live = settings.CACHES
    settings.CACHES = DEAD_CACHE
    for response in (
        http.post(f"{AUTH}login/", {"username": "alice", "password": password},
                  content_type="application/json"),
        http.post(f"{AUTH}refresh/", {"refresh": pair["refresh"]},
                  content_type="application/json"),
        http.post(f"{AUTH}logout/", **bearer(pair["access"])),
        *(http.get(path, **bearer(pair["access"])) for path in ENDPOINTS),
    ):
        assert response.status_code == 503, response.content
        assert response.json()["code"] == "cache_unavailable"
    assert DeviceSession.objects.filter(user=user).count() == 1
    session = DeviceSession.objects.get(pk=pair["session_id"])
    assert session.refresh_generation == 0 and session.revoked_at is None
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "5/min"}
    throttled = http.post(f"{AUTH}login/", {"username": "alice", "password": password},
                          content_type="application/json")
    assert throttled.status_code == 503 and throttled.json()["code"] == "cache_unavailable"
    settings.CACHES = live
    assert http.get("/api/ninja/me", **bearer(pair["access"])).status_code == 200


def test_database_down_is_a_503(http, user, login, monkeypatch):
    from django.db import OperationalError

    pair = login()

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(DeviceSession.objects, "active", locked)
    response = http.get(f"{AUTH}sessions/", **bearer(pair["access"]))
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"


def test_async_views_get_the_token_user_from_auser(user, login):
    from django.test import RequestFactory

    from django_doubletoken.ninja import AsyncDoubleTokenAuth

    pair = login()
    request = RequestFactory().get("/", **bearer(pair["access"]))
    grant = asyncio.run(AsyncDoubleTokenAuth()(request))
    assert grant.session_id == pair["session_id"]
    assert asyncio.run(request.auser()) is request.user
    assert request.user.pk == user.pk
