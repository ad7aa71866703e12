"""Issue 14: abuse and bad input. Hostile bodies, a spoofed client address, a password-hash
upgrade, login CSRF in cookie mode, mistyped time claims, a grace window longer than the
access lifetime. Each test here failed before the fix."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from rest_framework.test import APIClient

from django_doubletoken.checks import check_settings
from django_doubletoken.models import DeviceSession

from .helpers import access_claims, bearer, craft

pytestmark = pytest.mark.django_db

BODY_ENDPOINTS = ["/api/auth/login/", "/api/auth/refresh/", "/api/auth/verify/"]
TEN_MB = 10 * 1024 * 1024


def _json_error(response, status, code):
    assert response.status_code == status, (response.status_code, response.content[:200])
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == code, response.json()


# --- 1. hostile bodies -------------------------------------------------------------------


def _nested(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("path", [*BODY_ENDPOINTS, "/echo/"])
@pytest.mark.parametrize("kind", ["list", "object"])
@pytest.mark.parametrize("depth", [100, 1000, 50_000])
def test_deeply_nested_json_is_a_400_parse_error(api, path, kind, depth):
    response = api.post(path, _nested(depth, kind), content_type="application/json")
    _json_error(response, 400, "parse_error")


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize("depth", [100, 990, 5000])
def test_deep_nesting_inside_a_field_is_a_400_parse_error(api, path, depth):
    field = {"/api/auth/login/": "username", "/api/auth/refresh/": "refresh",
             "/api/auth/verify/": "token"}[path]
    body = f'{{"{field}": {_nested(depth, "list")}, "password": "x"}}'
    _json_error(api.post(path, body, content_type="application/json"), 400, "parse_error")


@pytest.mark.parametrize("charset", ["utf-16", "cp500"])  # cp500: "[" is not the byte 0x5B
def test_deep_nesting_is_found_in_any_charset(api, charset):
    body = _nested(200, "list").encode(charset)
    response = api.post("/echo/", body, content_type=f"application/json; charset={charset}")
    _json_error(response, 400, "parse_error")


def test_ordinary_nesting_still_parses(api):
    response = api.post("/echo/", _nested(60, "object"), content_type="application/json")
    assert response.status_code == 200 and response.json() == {"type": "dict"}


@pytest.mark.parametrize("path", [*BODY_ENDPOINTS, "/echo/"])
@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-16", "application/x-www-form-urlencoded",
])
def test_a_10_mb_body_is_a_413_json_answer(api, path, content_type):
    body = b'{"username": "' + b"a" * TEN_MB + b'"}'
    _json_error(api.post(path, body, content_type=content_type), 413, "request_too_large")


@pytest.mark.parametrize("path", [*BODY_ENDPOINTS, "/echo/"])
def test_a_10_mb_multipart_body_is_a_4xx_json_answer(api, path):
    body = (b"--xx\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\n"
            + b"a" * TEN_MB + b"\r\n--xx--\r\n")
    response = api.post(path, body, content_type="multipart/form-data; boundary=xx")
    assert response.status_code in (400, 413), response.content[:200]
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] in ("parse_error", "request_too_large")


def test_too_many_form_fields_is_a_400_json_answer(api, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = "&".join(f"f{i}=1" for i in range(50))
    for path in [*BODY_ENDPOINTS, "/echo/"]:
        response = api.post(path, body, content_type="application/x-www-form-urlencoded")
        _json_error(response, 400, "parse_error")


@pytest.fixture
def pair(user, login):
    return login()


@pytest.mark.parametrize("content_type", [
    "application/json", "application/x-www-form-urlencoded", "text/plain", "application/xml",
    "multipart/form-data; boundary=xx", "application/json; charset=no-such-codec",
])
def test_any_endpoint_answers_a_10_mb_body_of_any_type_without_html(api, pair, content_type):
    body = b"[" + b"1," * (TEN_MB // 2) + b"1]"
    calls = [("post", path) for path in BODY_ENDPOINTS] + [
        ("post", "/api/auth/logout/"), ("post", "/api/auth/logout-all/"),
        ("get", "/api/auth/sessions/"), ("get", "/api/auth/jwks/"),
        ("delete", f"/api/auth/sessions/{pair['session_id']}/"),
    ]
    for method, path in calls:
        for auth in ({}, bearer("not-a-token")):
            response = api.generic(method.upper(), path, body, content_type=content_type,
                                   **auth)
            assert 400 <= response.status_code < 500, (path, response.status_code)
            assert response["Content-Type"].startswith("application/json"), (path, response)
            assert response.json()["code"]


@pytest.mark.parametrize("body", ['"a string"', "42", "null", "true", "[1, 2]", '[{"a": 1}]'])
@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_a_body_of_the_wrong_json_type_is_a_400(api, path, body):
    response = api.post(path, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")


# --- 2. the login throttle and the client address ----------------------------------------


@pytest.fixture
def throttled(settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "3/min"}


def _fail_login(http, **meta):
    return http.post("/api/auth/login/", {"username": "alice", "password": "wrong"},
                     format="json", **meta)


def test_a_429_carries_the_throttled_code_and_retry_after(throttled, api, user):
    for _ in range(3):
        assert _fail_login(api).status_code == 401
    response = _fail_login(api)
    _json_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60


def test_behind_a_declared_proxy_the_throttle_keys_on_the_address_the_proxy_added(
        throttled, api, user, settings, password):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR"}
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    # The client forges the start of the header; the proxy appends what it saw.
    for n in range(3):
        assert _fail_login(api, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.7",
                           **proxy).status_code == 401
    _json_error(_fail_login(api, HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7", **proxy),
                429, "throttled")
    # Another client behind the same proxy is not throttled, not even when named by the first.
    other = api.post("/api/auth/login/", {"username": "alice", "password": password},
                     format="json", HTTP_X_FORWARDED_FOR="203.0.113.7, 203.0.113.8", **proxy)
    assert other.status_code == 200
    assert DeviceSession.objects.get(pk=other.json()["session_id"]).ip == "203.0.113.8"


@pytest.mark.parametrize("header, value, address", [
    ("HTTP_X_FORWARDED_FOR", "10.1.1.1, 192.0.2.60", "192.0.2.60"),
    ("HTTP_X_FORWARDED_FOR", "192.0.2.60:4711", "192.0.2.60"),
    ("HTTP_X_FORWARDED_FOR", "[2001:db8::7]:4711", "2001:db8::7"),
    ("HTTP_FORWARDED", 'for=10.1.1.1, for=192.0.2.60;proto=https;by=203.0.113.43', "192.0.2.60"),
    ("HTTP_FORWARDED", 'for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
    ("HTTP_X_REAL_IP", "not an address", None),
])
def test_the_client_address_read_from_a_declared_proxy_header(settings, rf, header, value,
                                                              address):
    from django_doubletoken.http import remote_ip

    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "CLIENT_IP_HEADER": header}
    assert remote_ip(rf.get("/", **{header: value, "REMOTE_ADDR": "10.0.0.1"})) == address
    # Without the header (a request that did not come through the proxy): the peer.
    assert remote_ip(rf.get("/", REMOTE_ADDR="10.0.0.1")) == "10.0.0.1"


def test_an_ipv6_client_is_throttled_per_64(throttled, api, user):
    for n in range(1, 4):
        assert _fail_login(api, REMOTE_ADDR=f"2001:db8:1:2::{n}").status_code == 401
    _json_error(_fail_login(api, REMOTE_ADDR="2001:db8:1:2:ffff::9"), 429, "throttled")
    assert _fail_login(api, REMOTE_ADDR="2001:db8:1:3::1").status_code == 401


# The live-server tests (two loopback source addresses) are in test_live_throttle.py.


# --- 3. password-hash upgrades -----------------------------------------------------------


class PreviousReleasePBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2 as an older Django configured it: fewer iterations (same algorithm name)."""

    iterations = PBKDF2PasswordHasher.iterations // 10


OLD_HASHER = f"{__name__}.PreviousReleasePBKDF2PasswordHasher"
NEW_HASHER = "django.contrib.auth.hashers.PBKDF2PasswordHasher"


def _works(token: str) -> bool:
    return APIClient().get("/api/me/", **bearer(token)).status_code == 200


def test_a_hash_upgrade_at_login_logs_nobody_out(settings, django_user_model, password):
    settings.PASSWORD_HASHERS = [OLD_HASHER]
    user = django_user_model.objects.create_user("carol", "c@example.com", password)
    device_a = APIClient().post("/api/auth/login/", {"username": "carol", "password": password},
                                format="json").json()
    old_hash = django_user_model.objects.get(pk=user.pk).password
    # Django is upgraded: its hasher now wants more iterations than the stored hash has.
    settings.PASSWORD_HASHERS = [NEW_HASHER]
    device_b = APIClient().post("/api/auth/login/", {"username": "carol", "password": password},
                                format="json").json()
    user.refresh_from_db()
    assert user.password != old_hash  # re-hashed at this login...
    assert f"${PBKDF2PasswordHasher.iterations}$" in user.password
    assert _works(device_a["access"]) and _works(device_b["access"])  # ...and nobody logged out
    assert DeviceSession.objects.active().filter(user=user).count() == 2

    user.set_password("a new one")
    user.save()
    assert not _works(device_a["access"]) and not _works(device_b["access"])
    assert set(DeviceSession.objects.filter(user=user).values_list("revoke_reason", flat=True)) \
        == {"password_changed"}


def test_set_unusable_password_still_revokes(user, login):
    pair = login()
    user.set_unusable_password()
    user.save()
    assert not _works(pair["access"])


def test_assigning_a_new_hash_directly_still_revokes(user, login):
    from django.contrib.auth.hashers import make_password

    pair = login()
    user.password = make_password("another one")
    user.save(update_fields=["password"])
    assert not _works(pair["access"])


# --- 4. login CSRF in cookie mode ---------------------------------------------------------


@pytest.fixture
def cookie_mode(settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "REFRESH_COOKIE_NAME": "dt_refresh"}


def _browser_login(password, *, format="json", **meta):
    return APIClient(enforce_csrf_checks=True).post(
        "/api/auth/login/", {"username": "alice", "password": password}, format=format, **meta)


@pytest.mark.parametrize("format", ["multipart", None])
def test_cross_site_form_login_is_refused_in_cookie_mode(cookie_mode, user, password, format):
    if format is None:  # what <form enctype="application/x-www-form-urlencoded"> sends
        response = APIClient(enforce_csrf_checks=True).post(
            "/api/auth/login/", f"username=alice&password={password}",
            content_type="application/x-www-form-urlencoded",
            HTTP_ORIGIN="https://attacker.example")
    else:
        response = _browser_login(password, format=format, HTTP_ORIGIN="https://attacker.example")
    _json_error(response, 415, "unsupported_media_type")
    assert "dt_refresh" not in response.cookies
    assert not DeviceSession.objects.exists()


@pytest.mark.parametrize("origin", ["https://attacker.example", "null", "http://testserver.evil",
                                    "https://testserver"])
def test_login_from_a_foreign_origin_is_refused_in_cookie_mode(cookie_mode, user, password,
                                                                origin):
    response = _browser_login(password, HTTP_ORIGIN=origin)
    _json_error(response, 403, "csrf_failed")
    assert "dt_refresh" not in response.cookies
    assert not DeviceSession.objects.exists()


@pytest.mark.parametrize("origin", [None, "http://testserver", "https://app.example"])
def test_same_site_or_trusted_json_login_sets_the_cookie(cookie_mode, user, password, settings,
                                                         origin):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example"]
    meta = {} if origin is None else {"HTTP_ORIGIN": origin}
    response = _browser_login(password, **meta)
    assert response.status_code == 200, response.content
    assert response.cookies["dt_refresh"].value


def test_without_cookie_mode_form_login_still_works(user, password):
    response = APIClient().post("/api/auth/login/", {"username": "alice", "password": password},
                                HTTP_ORIGIN="https://elsewhere.example")
    assert response.status_code == 200 and response.json()["refresh"]


def test_profiles_without_the_cookie_are_not_restricted(cookie_mode, user, password):
    response = APIClient().post(
        "/api/auth/login/", {"username": "alice", "password": password, "client": "mobile"})
    assert response.status_code == 200 and response.json()["refresh"]


# --- 5. registered time claims must be integers ------------------------------------------


BAD_TIMES = [True, False, "1700000000", 1.5, None, [], {}]


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", BAD_TIMES, ids=repr)
def test_a_time_claim_that_is_not_an_integer_is_token_invalid(api, pair, claim, value):
    now = int(time.time())
    good = {"exp": now + 600, "nbf": now - 60, "iat": now - 60}
    token = craft(access_claims(pair, **{**good, claim: value}) | {claim: value})
    for response in (api.get("/api/me/", **bearer(token)),
                     api.post("/api/auth/verify/", {"token": token}, format="json")):
        _json_error(response, 401, "token_invalid")


def test_exp_true_is_not_answered_as_expired(api, pair):
    token = craft(access_claims(pair) | {"exp": True})
    _json_error(api.get("/api/me/", **bearer(token)), 401, "token_invalid")


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [True, "1700000000", 1.5], ids=repr)
def test_a_refresh_token_with_a_mistyped_time_claim_is_token_invalid(api, pair, claim, value):
    import jwt

    payload = jwt.decode(pair["refresh"], options={"verify_signature": False})
    token = craft(payload | {claim: value}, typ="rt+jwt")
    _json_error(api.post("/api/auth/refresh/", {"refresh": token}, format="json"), 401,
                "token_invalid")


def test_an_integer_nbf_in_the_past_is_accepted(api, pair):
    token = craft(access_claims(pair) | {"nbf": int(time.time()) - 5})
    assert api.get("/api/me/", **bearer(token)).status_code == 200


# --- 6. a grace window longer than the access lifetime -----------------------------------


@pytest.mark.parametrize("overrides, profiles", [
    ({"GRACE_PERIOD": timedelta(minutes=15)}, ["web"]),
    ({"GRACE_PERIOD": timedelta(hours=1)}, ["mobile", "web"]),
    ({"CLIENT_PROFILES": {"web": {}, "kiosk": {"ACCESS_TOKEN_LIFETIME": timedelta(seconds=20)}}},
     ["kiosk"]),
])
def test_a_grace_period_not_shorter_than_an_access_lifetime_is_a_check_error(
        settings, overrides, profiles):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **overrides}
    errors = [e for e in check_settings() if e.id == "django_doubletoken.E019"]
    assert sorted(e.msg.split("'")[1] for e in errors) == profiles
    assert all("GRACE_PERIOD" in e.msg and e.hint for e in errors)
    with pytest.raises(SystemCheckError, match="GRACE_PERIOD"):
        call_command("check")


def test_the_new_messages_are_translated_and_their_codes_are_not(api):
    from django.utils import translation

    with translation.override("fr"):
        response = api.post("/api/auth/login/", _nested(100, "list"),
                            content_type="application/json", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.json() == {
        "detail": "Erreur d’analyse JSON - imbrication au-delà de 64 niveaux.",
        "code": "parse_error"}
