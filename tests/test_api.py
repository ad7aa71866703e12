import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.http import QueryDict
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer

from django_doubletoken.models import DeviceSession
from django_doubletoken.serializers import (
    RefreshSerializer,
    TokenPairResponseSerializer,
    token_pair_body,
    validated_refresh_token,
)
from django_doubletoken.services import TokenPair

from .helpers import access_token, bearer

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth/login/"
REFRESH = "/api/auth/refresh/"


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["detail"]
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
        if code != "invalid_credentials":
            assert 'error="invalid_token"' in response["WWW-Authenticate"]


# --- login ---------------------------------------------------------------------------------


def test_login_returns_the_pair_and_records_the_device(api, user, password):
    response = api.post(
        LOGIN,
        {"username": "alice", "password": password, "device": "Pixel 9"},
        format="json",
        HTTP_USER_AGENT="ExampleApp/1.0",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "access_expires_at",
                         "refresh_expires_at", "session_id"}
    assert body["token_type"] == "Bearer"
    access_at = datetime.fromisoformat(body["access_expires_at"])
    refresh_at = datetime.fromisoformat(body["refresh_expires_at"])
    now = timezone.now()
    assert timedelta(minutes=14) < access_at - now <= timedelta(minutes=15)
    assert timedelta(hours=23) < refresh_at - now <= timedelta(days=1)
    session = DeviceSession.objects.get(pk=body["session_id"])
    assert (session.user, session.client, session.device) == (user, "web", "Pixel 9")
    assert (session.user_agent, session.ip) == ("ExampleApp/1.0", "203.0.113.9")
    assert session.refresh_generation == 0 and session.revoked_at is None
    user.refresh_from_db()
    assert user.last_login is not None


def test_mobile_profile_gets_a_long_lived_refresh(login, user):
    body = login(client="mobile")
    refresh_at = datetime.fromisoformat(body["refresh_expires_at"])
    assert refresh_at - timezone.now() > timedelta(days=59)
    assert DeviceSession.objects.get(pk=body["session_id"]).client == "mobile"


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice", "password": "wrong"},
        {"username": "nobody", "password": "whatever"},
    ],
)
def test_wrong_credentials(api, user, body):
    _error(api.post(LOGIN, body, format="json"), 401, "invalid_credentials")
    assert not DeviceSession.objects.exists()


def test_inactive_user_cannot_log_in(api, user, password):
    user.is_active = False
    user.save()
    _error(api.post(LOGIN, {"username": "alice", "password": password}, format="json"),
           401, "invalid_credentials")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "alice"},
        {"username": ["alice"], "password": "x"},
        {"username": "alice", "password": {"a": 1}},
        {"username": "alice", "password": "x", "client": "fridge"},
        {"username": "alice", "password": "x", "device": "d" * 201},
        ["alice", "x"],
        "just a string",
    ],
)
def test_bad_login_bodies_are_400(api, user, body):
    response = api.post(LOGIN, body, format="json")
    assert response.status_code == 400, response.content


def test_malformed_json_is_400(api, user):
    response = api.post(LOGIN, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_login_is_throttled(api, user, password, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "3/min"}
    statuses = [
        api.post(LOGIN, {"username": "alice", "password": password}, format="json").status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_login_throttle_keys_carry_the_cache_key_prefix(api, user, password, settings,
                                                         real_redis):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "CACHE_KEY_PREFIX": "myapp-auth",
                            "LOGIN_THROTTLE_RATE": "3/min"}
    api.post(LOGIN, {"username": "alice", "password": password}, format="json")
    keys = [key.decode() for key in real_redis.keys("*throttle*")]
    assert keys and all(":myapp-auth:throttle:doubletoken_login:" in key for key in keys)


# --- authenticated requests ----------------------------------------------------------------


def test_me_with_bearer(api, user, login):
    pair = login()
    response = api.get("/api/me/", **bearer(pair["access"]))
    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "username": "alice"}


def test_no_credentials_is_401_with_code(api):
    response = api.get("/api/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer not-a-jwt",
        "bearer " + "x" * 10_000,
        "Bearer abc\x00def",
        "Bearer ünïcode",
    ],
)
def test_garbage_bearer_headers_are_401(api, header):
    _error(api.get("/api/me/", HTTP_AUTHORIZATION=header), 401, "token_invalid")


def test_other_schemes_are_left_to_other_authenticators(api, user):
    response = api.get("/api/me/", HTTP_AUTHORIZATION="Basic YWxpY2U6eA==")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_expired_access_token_says_refresh(api, user, login):
    pair = login()
    _error(api.get("/api/me/", **bearer(access_token(pair, remaining=-60))), 401, "token_expired")


def test_token_of_another_users_session_is_refused(api, user, other_user, login):
    pair = login()
    forged = access_token(pair, sub=str(other_user.pk))
    _error(api.get("/api/me/", **bearer(forged)), 401, "token_invalid")


def test_token_for_a_session_that_does_not_exist(api, user, login):
    pair = login()
    bogus = access_token({**pair, "session_id": "0b6f1a4e-95e6-4c4a-9d35-111111111111"})
    _error(api.get("/api/me/", **bearer(bogus)), 401, "session_revoked")
    not_uuid = access_token({**pair, "session_id": "not-a-uuid"})
    _error(api.get("/api/me/", **bearer(not_uuid)), 401, "token_invalid")


def test_token_with_a_sub_that_is_not_a_pk(api, user, login):
    pair = login()
    _error(api.get("/api/me/", **bearer(access_token(pair, sub="abc"))), 401, "token_invalid")


# --- refresh -------------------------------------------------------------------------------


def test_refresh_rotates(api, user, login):
    pair = login()
    response = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    new = response.json()
    assert new["session_id"] == pair["session_id"]
    assert new["refresh"] != pair["refresh"] and new["access"] != pair["access"]
    assert DeviceSession.objects.get(pk=pair["session_id"]).refresh_generation == 1
    assert api.get("/api/me/", **bearer(new["access"])).status_code == 200
    # The replaced access token keeps working until it expires (it was not stolen).
    assert api.get("/api/me/", **bearer(pair["access"])).status_code == 200
    # The new refresh token rotates again.
    newer = api.post(REFRESH, {"refresh": new["refresh"]}, format="json")
    assert newer.status_code == 200
    assert DeviceSession.objects.get(pk=pair["session_id"]).refresh_generation == 2


def test_replay_within_grace_returns_the_same_pair(api, user, login):
    pair = login()
    first = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json").json()
    second = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json").json()
    assert first == second
    assert DeviceSession.objects.get(pk=pair["session_id"]).refresh_generation == 1


def test_replay_after_grace_is_reuse_and_revokes_the_session(api, user, login):
    pair = login()
    first = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json").json()
    DeviceSession.objects.filter(pk=pair["session_id"]).update(
        rotated_at=timezone.now() - timedelta(seconds=31)
    )
    _error(api.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401, "refresh_reused")
    session = DeviceSession.objects.get(pk=pair["session_id"])
    assert session.revoke_reason == "refresh_reused" and session.revoked_at is not None
    # Everything of that session is dead, the legitimate holder's newest tokens included.
    _error(api.get("/api/me/", **bearer(first["access"])), 401, "session_revoked")
    _error(api.post(REFRESH, {"refresh": first["refresh"]}, format="json"), 401,
           "session_revoked")


def test_any_older_generation_is_reuse(api, user, login):
    pair = login()
    one = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json").json()
    api.post(REFRESH, {"refresh": one["refresh"]}, format="json")
    # Generation 0 is two rotations old: reuse even inside the grace window.
    _error(api.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401, "refresh_reused")


def test_refresh_errors(api, user, login):
    pair = login()
    _error(api.post(REFRESH, {"refresh": pair["access"]}, format="json"), 401, "token_invalid")
    _error(api.post(REFRESH, {"refresh": "garbage"}, format="json"), 401, "token_invalid")
    assert api.post(REFRESH, {}, format="json").status_code == 400
    assert api.post(REFRESH, {"refresh": 12}, format="json").status_code == 401
    assert api.post(REFRESH, {"refresh": ["x"]}, format="json").status_code == 400
    assert api.post(REFRESH, {"refresh": "x" * 5000}, format="json").status_code == 400


_REFRESH_BODIES = [
    {"refresh": " a.b.c "}, {"refresh": 12}, {"refresh": 1.5}, {"refresh": True}, {},
    {"refresh": ""}, {"refresh": "   "}, {"refresh": None}, {"refresh": ["x"]},
    {"refresh": {"a": 1}}, {"refresh": "x" * 5000}, {"refresh": "a\x00b"}, {"other": "x"},
    {"refresh": "é.b.c"}, {"refresh": "a\ud800b"},
    [], ["refresh"], None, "refresh", 12,
]


@pytest.mark.parametrize("body", _REFRESH_BODIES + [
    QueryDict("refresh=a.b.c"), QueryDict("refresh="), QueryDict("other=1"),
], ids=repr)
def test_refresh_body_validation_is_the_serializers(body):
    """refresh/ validates its body without a RefreshSerializer per request: the same token,
    or the same errors (messages and codes), as the serializer."""
    serializer = RefreshSerializer(data=body)
    if serializer.is_valid():
        assert validated_refresh_token(body) == serializer.validated_data["refresh"]
    else:
        with pytest.raises(ValidationError) as info:
            validated_refresh_token(body)
        assert info.value.detail == serializer.errors
        assert info.value.get_codes() == ValidationError(serializer.errors).get_codes()


def _post_json(api, body):
    # json.dumps escapes what the test client's renderer cannot encode (lone surrogates).
    return api.post(REFRESH, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(("token", "code_point"), [
    ("a\ud800b", "D800"), ("é\udfffb", "DFFF"), (" \udbff ", "DBFF"),
])
def test_a_token_with_a_surrogate_is_drfs_400(api, token, code_point):
    response = _post_json(api, {"refresh": token})
    assert response.status_code == 400 and response.json()["code"] == "invalid_input"
    assert response.json()["errors"] == {
        "refresh": [f"Surrogate characters are not allowed: U+{code_point}."]}
    with pytest.raises(ValidationError) as info:
        validated_refresh_token({"refresh": token})
    assert info.value.get_codes() == {"refresh": ["surrogate_characters_not_allowed"]}


@pytest.mark.parametrize("body", [b for b in _REFRESH_BODIES if b is not None], ids=repr)
def test_refresh_400_bodies(api, body):
    response = _post_json(api, body)
    serializer = RefreshSerializer(data=body)
    if not serializer.is_valid():
        assert response.status_code == 400 and response.json()["code"] == "invalid_input"
        assert response.json()["errors"] == json.loads(json.dumps(serializer.errors))
    else:
        _error(response, 401, "token_invalid")


@pytest.mark.parametrize("microsecond", [0, 123456])
def test_the_pair_body_is_what_the_response_serializer_renders(microsecond):
    """token_pair_body is written out for speed; TokenPairResponseSerializer is the schema."""
    moment = datetime(2030, 1, 2, 3, 4, 5, microsecond, tzinfo=dt_timezone.utc)
    pair = TokenPair(access="a.b.c", refresh="d.e.f", access_expires_at=moment,
                     refresh_expires_at=moment + timedelta(days=1),
                     session_id="0b1e5a52-7f1e-4a52-9f1e-5a527f1e4a52")
    body = token_pair_body(pair)
    rendered = TokenPairResponseSerializer(pair).data
    assert list(body.items()) == list(rendered.items())
    assert JSONRenderer().render(body) == JSONRenderer().render(rendered)


def test_refresh_of_an_expired_session(api, user, login):
    pair = login()
    DeviceSession.objects.filter(pk=pair["session_id"]).update(
        absolute_expires_at=timezone.now() - timedelta(seconds=1)
    )
    _error(api.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401,
           "session_expired")


# --- logout, devices, verify ---------------------------------------------------------------


def test_logout_revokes_the_current_session_only(api, user, login):
    phone, laptop = login(device="phone"), login(device="laptop")
    assert api.post("/api/auth/logout/", **bearer(phone["access"])).status_code == 204
    _error(api.get("/api/me/", **bearer(phone["access"])), 401, "session_revoked")
    _error(api.post(REFRESH, {"refresh": phone["refresh"]}, format="json"), 401,
           "session_revoked")
    assert api.get("/api/me/", **bearer(laptop["access"])).status_code == 200
    assert DeviceSession.objects.get(pk=phone["session_id"]).revoke_reason == "logout"


def test_logout_needs_a_token(api):
    assert api.post("/api/auth/logout/").status_code == 401


def test_logout_all_revokes_every_session_of_the_user(api, user, other_user, login):
    mine = [login(device=f"d{i}") for i in range(3)]
    theirs = login("bob")
    assert api.post("/api/auth/logout-all/", **bearer(mine[0]["access"])).status_code == 204
    for pair in mine:
        _error(api.get("/api/me/", **bearer(pair["access"])), 401, "session_revoked")
    assert api.get("/api/me/", **bearer(theirs["access"])).status_code == 200
    assert set(DeviceSession.objects.filter(user=user).values_list("revoke_reason", flat=True)) \
        == {"logout_all"}


def test_session_list_shows_own_active_sessions(api, user, other_user, login):
    phone = login(device="phone")
    laptop = login(device="laptop")
    gone = login(device="old tablet")
    login("bob", device="bob's")
    api.post("/api/auth/logout/", **bearer(gone["access"]))
    response = api.get("/api/auth/sessions/", **bearer(laptop["access"]))
    assert response.status_code == 200
    rows = {row["device"]: row for row in response.json()}
    assert set(rows) == {"phone", "laptop"}
    assert rows["laptop"]["current"] is True and rows["phone"]["current"] is False
    assert rows["phone"]["id"] == phone["session_id"]
    assert set(rows["phone"]) == {"id", "client", "device", "ip", "user_agent", "created_at",
                                  "last_used_at", "auth_time", "acr", "amr", "current"}


def test_removing_a_device_logs_it_out(api, user, other_user, login):
    phone, laptop = login(device="phone"), login(device="laptop")
    theirs = login("bob")
    url = f"/api/auth/sessions/{phone['session_id']}/"
    assert api.delete(url, **bearer(laptop["access"])).status_code == 204
    _error(api.get("/api/me/", **bearer(phone["access"])), 401, "session_revoked")
    assert DeviceSession.objects.get(pk=phone["session_id"]).revoke_reason == "removed_by_user"
    # Another user's session, a malformed id, an unknown id: 404, nothing changes.
    for bad in (theirs["session_id"], "not-a-uuid", "0b6f1a4e-95e6-4c4a-9d35-111111111111"):
        response = api.delete(f"/api/auth/sessions/{bad}/", **bearer(laptop["access"]))
        assert response.status_code == 404
    assert api.get("/api/me/", **bearer(theirs["access"])).status_code == 200


def test_verify(api, user, login):
    pair = login()
    response = api.post("/api/auth/verify/", {"token": pair["access"]}, format="json")
    assert response.status_code == 200
    assert response.json()["session_id"] == pair["session_id"]
    # ISO 8601, the same instant and format as login's access_expires_at.
    assert response.json()["expires_at"] == pair["access_expires_at"]
    assert datetime.fromisoformat(response.json()["expires_at"]).tzinfo is not None
    _error(api.post("/api/auth/verify/", {"token": pair["refresh"]}, format="json"), 401,
           "token_invalid")
    _error(api.post("/api/auth/verify/", {"token": access_token(pair, remaining=-60)},
                    format="json"), 401, "token_expired")
    api.post("/api/auth/logout/", **bearer(pair["access"]))
    _error(api.post("/api/auth/verify/", {"token": pair["access"]}, format="json"), 401,
           "session_revoked")
    assert api.post("/api/auth/verify/", {}, format="json").status_code == 400


def test_client_ip_behind_a_proxy(api, user, password, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR"}
    body = api.post(LOGIN, {"username": "alice", "password": password}, format="json",
                    HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7", REMOTE_ADDR="10.0.0.2").json()
    # The forged first address is ignored; the proxy's own entry is kept.
    assert DeviceSession.objects.get(pk=body["session_id"]).ip == "198.51.100.7"
    garbage = api.post(LOGIN, {"username": "alice", "password": password}, format="json",
                       HTTP_X_FORWARDED_FOR="not-an-ip").json()
    assert DeviceSession.objects.get(pk=garbage["session_id"]).ip is None


def test_the_rotation_prepares_now_once_for_fields_that_prepare_alike():
    """rotate_generation prepares ``now`` with rotated_at's field for all four datetime
    columns: valid only while they are the same plain field type."""
    from django.db import connection, models

    from django_doubletoken.models import SAME_PREPARATION_FIELDS

    fields = [DeviceSession._meta.get_field(name) for name in SAME_PREPARATION_FIELDS]
    assert {type(field) for field in fields} == {models.DateTimeField}
    now = timezone.now()
    assert len({repr(f.get_db_prep_value(now, connection)) for f in fields}) == 1


def test_a_rotation_is_one_statement_and_one_cache_command(api, user, login, counting_cache,
                                                           django_assert_num_queries,
                                                           redis_wire):
    """The UPDATE and the last-used marker's SET, their waits overlapped: the SET is sent
    before the UPDATE and its reply read after it."""
    from django.db import connection

    pair = login()
    counting_cache.calls.clear()
    redis_wire.clear()

    def logged(execute, sql, params, many, context):
        redis_wire.append(("sql", sql.split(None, 1)[0]))
        return execute(sql, params, many, context)

    with django_assert_num_queries(1), connection.execute_wrapper(logged):  # the UPDATE
        response = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200
    assert redis_wire == [("send", ["SET"]), ("sql", "UPDATE"), ("read", None)]
    assert counting_cache.calls == []  # nothing else through the cache's API
    # The pair handed out is the one a grace-window replay re-derives from the row.
    replay = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert replay.json() == response.json()


def test_a_marker_reply_lost_after_the_update_is_set_again(api, user, login, monkeypatch,
                                                          real_redis):
    """The overlapped SET's reply lost (the connection dropped during the UPDATE): the
    rotation stands, and the marker is written again with an ordinary, retried SET."""
    import redis.connection

    from django_doubletoken import store

    pair = login()
    sid = pair["session_id"]
    real_redis.delete(*real_redis.keys(f"*{store.used_key(sid)}"))
    read = redis.connection.AbstractConnection.read_response
    lost = []

    def drop_once(self, *args, **kwargs):
        if not lost:
            lost.append(True)
            raise redis.exceptions.ConnectionError("reply lost")
        return read(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "read_response", drop_once)
    response = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200 and lost
    assert DeviceSession.objects.get(pk=sid).refresh_generation == 1
    assert real_redis.keys(f"*{store.used_key(sid)}")


def test_jwks_answers_get_only(api):
    """A POST to jwks/ is a 405, not the GET's answer (schemathesis: undocumented 404)."""
    response = api.post("/api/auth/jwks/")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
