"""``reauthenticate/`` and the claims behind step-up (issue 28): ``auth_time`` moves only on
login and re-authentication; re-authentication renews the same session and nothing else; it
fails as it must (revoked, expired, another user's token, wrong password, throttled)."""

import time
from datetime import timedelta

import jwt
import pytest
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.test import Client

from django_doubletoken import services, signals
from django_doubletoken.errors import TokenError
from django_doubletoken.models import DeviceSession

from . import stepup_methods
from .helpers import access_token, bearer

pytestmark = pytest.mark.django_db

PREFIXES = ["/api/auth/", "/api/ninja/auth/"]
# Guards of max_age 3 s (auth_time is in whole seconds: a margin for a loaded machine), each
# face with one of the routers.
SHORT = [("/stepup/drf-short/", "/api/auth/"), ("/stepup/ninja/short", "/api/ninja/auth/"),
         ("/stepup/plain-short/", "/api/ninja/auth/")]
SHORT_CHALLENGE = ('Bearer realm="api", error="insufficient_user_authentication", '
                   'error_description="More recent authentication is required", max_age=3')


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def _reauthenticate(prefix, access, body, **extra):
    return Client().post(f"{prefix}reauthenticate/", body, content_type="application/json",
                         **bearer(access), **extra)


@pytest.fixture
def heard():
    """What the signals told: user_logged_in, user_login_failed, session_reauthenticated."""
    seen = {"logged_in": [], "login_failed": [], "reauthenticated": []}

    def logged_in(sender, user, **kwargs):
        seen["logged_in"].append(user.pk)

    def login_failed(sender, credentials, **kwargs):
        seen["login_failed"].append(credentials)

    def reauthenticated(sender, session, **kwargs):
        seen["reauthenticated"].append((str(session.pk), session.acr))

    user_logged_in.connect(logged_in, dispatch_uid="t_reauth_in")
    user_login_failed.connect(login_failed, dispatch_uid="t_reauth_failed")
    signals.session_reauthenticated.connect(reauthenticated, dispatch_uid="t_reauth")
    yield seen
    user_logged_in.disconnect(dispatch_uid="t_reauth_in")
    user_login_failed.disconnect(dispatch_uid="t_reauth_failed")
    signals.session_reauthenticated.disconnect(dispatch_uid="t_reauth")


def test_a_password_login_records_when_and_how(user, login):
    before = int(time.time())
    pair = login()
    token = claims(pair["access"])
    row = DeviceSession.objects.get(pk=pair["session_id"])

    assert before <= token["auth_time"] <= time.time()
    assert (token["acr"], token["amr"]) == ("pwd", ["pwd"])
    assert claims(pair["refresh"])["auth_time"] == token["auth_time"]
    assert int(row.auth_time.timestamp()) == token["auth_time"]
    assert (row.acr, row.amr) == ("pwd", "pwd")


def test_auth_time_survives_refreshes_and_slides_and_moves_on_reauthentication(
        user, login, password, settings):
    # Every request slides: the threshold is the whole access lifetime.
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "SLIDING_THRESHOLD": timedelta(hours=1)}
    pair = login()
    at_login = claims(pair["access"])["auth_time"]
    time.sleep(1.1)  # a refresh or slide that set auth_time "now" would show
    client = Client()
    access, refresh = pair["access"], pair["refresh"]
    seen = []
    for _ in range(3):
        renewed = client.post("/api/auth/refresh/", {"refresh": refresh},
                              content_type="application/json").json()
        access, refresh = renewed["access"], renewed["refresh"]
        seen += [claims(access), claims(refresh)]
    for _ in range(5):
        response = client.get("/api/me/", **bearer(access))
        assert response.status_code == 200
        slid = response["NEW_HTTP_AUTHORIZATION"].removeprefix("Bearer ")
        assert slid != access
        access = slid
        seen.append(claims(access))

    assert len(seen) == 11
    assert {(c["auth_time"], c["acr"], tuple(c["amr"])) for c in seen} == {
        (at_login, "pwd", ("pwd",))}
    assert client.get("/stepup/drf/", **bearer(access)).status_code == 200  # 300 s guard

    again = _reauthenticate("/api/auth/", access, {"password": password}).json()

    assert claims(again["access"])["auth_time"] > at_login
    assert claims(again["refresh"])["auth_time"] == claims(again["access"])["auth_time"]
    assert again["session_id"] == pair["session_id"]


@pytest.mark.parametrize("guarded, prefix", SHORT)
def test_guarded_view_until_max_age_then_reauthenticate(guarded, prefix, user, login, password,
                                                        heard):
    pair, other_device = login(), login()
    heard["logged_in"].clear()  # those two logins
    other_before = DeviceSession.objects.get(pk=other_device["session_id"])
    client = Client()
    assert client.get(guarded, **bearer(pair["access"])).status_code == 200
    time.sleep(4.1)

    old = client.get(guarded, **bearer(pair["access"]))
    refreshed = client.post(f"{prefix}refresh/", {"refresh": pair["refresh"]},
                            content_type="application/json").json()
    old_refreshed = client.get(guarded, **bearer(refreshed["access"]))
    renewed = _reauthenticate(prefix, refreshed["access"], {"password": password})
    passes = client.get(guarded, **bearer(renewed.json()["access"]))

    for refused in (old, old_refreshed):
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"] == SHORT_CHALLENGE
        assert refused.json()["code"] == "insufficient_user_authentication"
        assert refused.json()["max_age"] == 3
    assert renewed.status_code == 200, renewed.content
    assert renewed["Cache-Control"] == "no-store"
    assert passes.status_code == 200, passes.content
    assert passes.json()["sid"] == pair["session_id"] == renewed.json()["session_id"]
    assert DeviceSession.objects.filter(user=user).count() == 2  # no new session
    assert heard["logged_in"] == []
    assert heard["reauthenticated"] == [(pair["session_id"], "pwd")]
    # The other device: untouched, row and tokens.
    other_after = DeviceSession.objects.get(pk=other_device["session_id"])
    assert (other_after.auth_time, other_after.refresh_generation, other_after.revoked_at) == (
        other_before.auth_time, other_before.refresh_generation, None)
    assert client.get("/api/me/", **bearer(other_device["access"])).status_code == 200


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_previous_refresh_token_follows_the_usual_rules(prefix, user, login, password,
                                                            settings):
    pair = login()
    renewed = _reauthenticate(prefix, pair["access"], {"password": password}).json()
    client = Client()

    # Within the grace window the previous refresh token gets the very same new pair...
    replay = client.post(f"{prefix}refresh/", {"refresh": pair["refresh"]},
                         content_type="application/json")
    assert replay.status_code == 200
    assert (replay.json()["access"], replay.json()["refresh"]) == (renewed["access"],
                                                                   renewed["refresh"])
    # ...after it, it is reuse: the session is revoked.
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "GRACE_PERIOD": timedelta(0)}
    reused = client.post(f"{prefix}refresh/", {"refresh": pair["refresh"]},
                         content_type="application/json")
    assert reused.status_code == 401 and reused.json()["code"] == "refresh_reused"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_wrong_password_changes_nothing_and_fires_user_login_failed(prefix, user, login,
                                                                      heard):
    pair = login()
    before = DeviceSession.objects.get(pk=pair["session_id"])

    wrong = _reauthenticate(prefix, pair["access"], {"password": "not it"})

    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_credentials"
    assert wrong["WWW-Authenticate"] == 'Bearer realm="api"'
    assert [c["username"] for c in heard["login_failed"]] == ["alice"]
    after = DeviceSession.objects.get(pk=pair["session_id"])
    assert (after.auth_time, after.refresh_generation, after.revoked_at) == (
        before.auth_time, before.refresh_generation, None)
    assert heard["reauthenticated"] == []
    # The session goes on as it was: its refresh token rotates normally.
    assert Client().post(f"{prefix}refresh/", {"refresh": pair["refresh"]},
                         content_type="application/json").status_code == 200


@pytest.mark.parametrize("prefix", PREFIXES)
def test_revoked_expired_and_foreign_tokens_are_refused(prefix, user, other_user, login,
                                                        password):
    revoked, mine = login(), login()
    theirs = login("bob")
    client = Client()
    assert client.post(f"{prefix}logout/", **bearer(revoked["access"])).status_code == 204
    # Bob's token naming alice's session: signed with the real key, refused all the same.
    foreign = access_token(mine, sub=claims(theirs["access"])["sub"])

    answers = {
        "revoked": _reauthenticate(prefix, revoked["access"], {"password": password}),
        "expired": _reauthenticate(prefix, access_token(mine, remaining=-60),
                                   {"password": password}),
        "foreign": _reauthenticate(prefix, foreign, {"password": password}),
        "none": client.post(f"{prefix}reauthenticate/", {"password": password},
                            content_type="application/json"),
    }

    assert {name: (r.status_code, r.json()["code"]) for name, r in answers.items()} == {
        "revoked": (401, "session_revoked"), "expired": (401, "token_expired"),
        "foreign": (401, "token_invalid"), "none": (401, "not_authenticated")}
    assert DeviceSession.objects.get(pk=mine["session_id"]).refresh_generation == 0


def test_the_service_refuses_another_users_session(user, other_user, login):
    pair = login()
    with pytest.raises(TokenError) as refused:
        services.reauthenticate(pair["session_id"], other_user, acr="pwd", amr=["pwd"])
    assert refused.value.code == "token_invalid"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_throttled_per_session_with_retry_after(prefix, user, login, password, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "2/min"}
    pair, other = login(), login()

    answers = [_reauthenticate(prefix, pair["access"], {"password": "wrong"}).status_code
               for _ in range(2)]
    throttled = _reauthenticate(prefix, pair["access"], {"password": password})
    other_session = _reauthenticate(prefix, other["access"], {"password": password})

    assert answers == [401, 401]
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert other_session.status_code == 200


@pytest.mark.parametrize("body, field", [({}, "password"), ({"password": ""}, "password"),
                                         ({"password": "x\u0000"}, "password"),
                                         ({"method": "carrier-pigeon"}, "method")])
def test_bad_bodies_are_400_with_the_field(body, field, user, login):
    pair = login()
    response = _reauthenticate("/api/auth/", pair["access"], body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_input"
    assert list(response.json()["errors"]) == [field]


def test_a_registered_method_records_its_acr_and_amr(user, login, settings, heard):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "REAUTHENTICATION_METHODS": {
        "code": {"VERIFY": "tests.stepup_methods.verify_code", "ACR": "mfa", "AMR": ["otp"]}}}
    stepup_methods.CALLS.clear()
    pair = login()
    client = Client()
    assert client.get("/stepup/ninja/acr", **bearer(pair["access"])).status_code == 401

    missing = _reauthenticate("/api/ninja/auth/", pair["access"], {"method": "code"})
    wrong = _reauthenticate("/api/ninja/auth/", pair["access"],
                            {"method": "code", "code": "000000"})
    right = _reauthenticate("/api/ninja/auth/", pair["access"],
                            {"method": "code", "code": "123456"})

    # A field named "code" stays apart from the answer's own code.
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_input"
    assert missing.json()["errors"] == {"code": ["Send the six digits."]}
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    assert heard["login_failed"] == [{"username": "alice", "method": "code"}]
    assert right.status_code == 200
    token = claims(right.json()["access"])
    assert (token["acr"], token["amr"]) == ("mfa", ["otp"])
    assert client.get("/stepup/ninja/acr", **bearer(right.json()["access"])).status_code == 200
    calls = stepup_methods.CALLS
    assert calls == [(user.pk, "000000"), (user.pk, "123456")]


def test_a_projects_own_verifier_view(user, login):
    pair = login()
    client = Client()

    refused = client.post("/stepup/own-verifier/", {"assertion": "forged"},
                          content_type="application/json", **bearer(pair["access"]))
    done = client.post("/stepup/own-verifier/", {"assertion": "valid"},
                       content_type="application/json", **bearer(pair["access"]))

    assert refused.status_code == 401
    assert done.status_code == 200 and done["Cache-Control"] == "no-store"
    assert done.json()["session_id"] == pair["session_id"]
    assert (claims(done.json()["access"])["acr"], claims(done.json()["access"])["amr"]) == (
        "mfa", ["hwk"])


def test_reauthentication_never_also_slides_the_old_token(user, login, password):
    pair = login()
    near_expiry = access_token(pair, remaining=30, auth_time=int(time.time()) - 3600)

    renewed = _reauthenticate("/api/auth/", near_expiry, {"password": password})

    assert renewed.status_code == 200
    assert "NEW_HTTP_AUTHORIZATION" not in renewed


def test_the_device_list_shows_when_each_device_last_authenticated(user, login, password):
    first, second = login(), login()
    time.sleep(1.1)
    _reauthenticate("/api/auth/", second["access"], {"password": password})

    rows = {row["id"]: row for row in Client().get(
        "/api/auth/sessions/", **bearer(first["access"])).json()}
    ninja_rows = {row["id"]: row for row in Client().get(
        "/api/ninja/auth/sessions/", **bearer(first["access"])).json()}

    for listed in (rows, ninja_rows):
        first_row, second_row = listed[first["session_id"]], listed[second["session_id"]]
        assert first_row["auth_time"] < second_row["auth_time"]
        assert (second_row["acr"], second_row["amr"]) == ("pwd", ["pwd"])


@pytest.mark.parametrize("prefix", PREFIXES)
def test_cookie_mode_gets_the_new_refresh_token_in_its_cookie(prefix, user, password,
                                                              settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "REFRESH_COOKIE_NAME": "dt_refresh",
                            "REFRESH_COOKIE_SECURE": False}
    client = Client()
    pair = client.post(f"{prefix}login/", {"username": "alice", "password": password},
                       content_type="application/json").json()
    old_cookie = client.cookies["dt_refresh"].value

    response = client.post(f"{prefix}reauthenticate/", {"password": password},
                           content_type="application/json", **bearer(pair["access"]))

    assert response.status_code == 200 and "refresh" not in response.json()
    cookie = response.cookies["dt_refresh"]
    assert cookie["httponly"] and cookie.value not in ("", old_cookie)
    assert claims(cookie.value)["auth_time"] == claims(response.json()["access"])["auth_time"]


def test_a_lockout_backend_stops_reauthentication_as_it_stops_login(user, login, password,
                                                                    settings, heard):
    pair = login()
    settings.AUTHENTICATION_BACKENDS = ["tests.stepup_methods.LockoutBackend",
                                        "django.contrib.auth.backends.ModelBackend"]
    stepup_methods.LOCKED_OUT.add("alice")
    try:
        locked = _reauthenticate("/api/auth/", pair["access"], {"password": password})
        login_refused = Client().post("/api/auth/login/", {"username": "alice",
                                                           "password": password},
                                      content_type="application/json")
    finally:
        stepup_methods.LOCKED_OUT.clear()
    unlocked = _reauthenticate("/api/auth/", pair["access"], {"password": password})

    assert (locked.status_code, locked.json()["code"]) == (401, "invalid_credentials")
    assert login_refused.json()["code"] == "invalid_credentials"
    assert [c["username"] for c in heard["login_failed"]] == ["alice", "alice"]
    assert unlocked.status_code == 200


@pytest.mark.parametrize("guarded, prefix", [("/stepup/drf/", "/api/auth/"),
                                             ("/stepup/ninja/recent", "/api/ninja/auth/"),
                                             ("/stepup/plain/", "/api/auth/")])
def test_a_dpop_bound_session_steps_up_and_stays_bound(guarded, prefix, user, password,
                                                       settings):
    from django_doubletoken import dpop

    from .dpop_keys import ProofKey

    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP": "optional"}
    key, client, base = ProofKey(), Client(), "http://testserver"
    login_url = f"{base}{prefix}login/"
    pair = client.post(login_url, {"username": "alice", "password": password},
                       content_type="application/json",
                       HTTP_DPOP=key.proof("POST", login_url, nonce=dpop.current_nonce())).json()
    assert pair["token_type"] == "DPoP"
    stale = access_token(pair, auth_time=int(time.time()) - 3600, cnf={"jkt": key.jkt})

    refused = client.get(guarded, **key.headers("GET", f"{base}{guarded}", stale))
    renewed = client.post(f"{prefix}reauthenticate/", {"password": password},
                          content_type="application/json",
                          **key.headers("POST", f"{base}{prefix}reauthenticate/", stale))
    body = renewed.json()
    passes = client.get(guarded, **key.headers("GET", f"{base}{guarded}", body["access"]))

    assert refused.status_code == 401, refused.content
    assert refused.json()["code"] == "insufficient_user_authentication"
    challenge = refused["WWW-Authenticate"]
    assert challenge.startswith("DPoP algs=") and challenge.endswith(
        'error="insufficient_user_authentication", '
        'error_description="More recent authentication is required", max_age=300')
    assert renewed.status_code == 200, renewed.content
    assert body["token_type"] == "DPoP" and claims(body["access"])["cnf"] == {"jkt": key.jkt}
    assert claims(body["refresh"])["cnf"] == {"jkt": key.jkt}
    assert passes.status_code == 200, passes.content
    # Without the key the new token is useless, as before.
    assert client.get(guarded, **bearer(body["access"])).status_code == 401
