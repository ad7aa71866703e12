"""The sliding middleware, request by request (the live-server tests cover concurrency)."""

import time
from types import SimpleNamespace

import jwt
import pytest

from django_doubletoken import services, signals, store, tokens
from django_doubletoken.models import DeviceSession

from .helpers import KEY, access_claims, access_token, bearer, craft

pytestmark = pytest.mark.django_db

HEADER = "NEW_HTTP_AUTHORIZATION"


def _new_token(response, header=HEADER):
    value = response.get(header)
    if value is None:
        return None
    assert value.startswith("Bearer ")
    return value.removeprefix("Bearer ")


def test_no_header_outside_the_window(api, user, login, counting_cache,
                                      django_assert_num_queries):
    pair = login()
    counting_cache.calls.clear()
    with django_assert_num_queries(0):
        response = api.get("/whoami-pk/", **bearer(access_token(pair, remaining=330)))
    assert response.status_code == 200 and _new_token(response) is None
    assert counting_cache.calls == ["get_many"]


def test_near_expiry_token_is_replaced(api, user, login, counting_cache,
                                       django_assert_num_queries, redis_wire):
    pair = login()
    old = access_token(pair, remaining=120)
    counting_cache.calls.clear()
    redis_wire.clear()
    with django_assert_num_queries(0):  # no database write, no read
        response = api.get("/whoami-pk/", **bearer(old))
    assert response.status_code == 200
    new = _new_token(response)
    old_claims = jwt.decode(old, KEY, algorithms=["HS256"])
    claims = jwt.decode(new, KEY, algorithms=["HS256"])
    assert jwt.get_unverified_header(new)["typ"] == "at+jwt"
    assert claims["sid"] == old_claims["sid"] and claims["sub"] == old_claims["sub"]
    assert claims["jti"] != old_claims["jti"] and claims["sxp"] == old_claims["sxp"]
    assert abs(claims["exp"] - (time.time() + 15 * 60)) < 3
    assert HEADER in response["Access-Control-Expose-Headers"]
    assert "no-store" in response["Cache-Control"] and "Authorization" in response["Vary"]
    # One round trip: the request's read and the successor's SET NX, pipelined.
    assert [names for kind, names in redis_wire if kind == "send"] == [["MGET", "SET"]]
    assert counting_cache.calls == []
    # The new token works and is not itself near expiry.
    again = api.get("/whoami-pk/", **bearer(new))
    assert again.status_code == 200 and _new_token(again) is None


def test_old_token_gets_the_same_successor_within_grace_then_is_refused(
    api, user, login, redis_wire
):
    pair = login()
    old = access_token(pair, remaining=120)
    new = _new_token(api.get("/whoami-pk/", **bearer(old)))
    redis_wire.clear()
    second = api.get("/whoami-pk/", **bearer(old))
    assert second.status_code == 200 and _new_token(second) == new
    # The successor came with the checks; this process knew one was stored, so it offered
    # none (no signature, no SET NX).
    assert [names for kind, names in redis_wire if kind == "send"] == [["MGET"]]
    # Grace over: move the successor's issue time 31 s into the past.
    jti = jwt.decode(old, KEY, algorithms=["HS256"])["jti"]
    store.cache().set(store.successor_key(pair["session_id"], jti), (new, int(time.time()) - 31),
                     60)
    refused = api.get("/whoami-pk/", **bearer(old))
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    assert _new_token(refused) is None
    assert api.get("/whoami-pk/", **bearer(new)).status_code == 200


def test_blacklist_entry_expires_with_the_old_token(api, user, login, real_redis):
    pair = login()
    old = access_token(pair, remaining=120)
    api.get("/whoami-pk/", **bearer(old))
    jti = jwt.decode(old, KEY, algorithms=["HS256"])["jti"]
    ttl = real_redis.ttl(store.cache().make_key(store.successor_key(pair["session_id"], jti)))
    assert 115 <= ttl <= 120 + 10 + 1  # remaining lifetime + leeway


@pytest.mark.parametrize("offset, slides", [(-1, False), (0, True), (1, True)])
def test_threshold_boundaries(api, user, login, monkeypatch, offset, slides):
    """Remaining lifetime just above / at / just below SLIDING_THRESHOLD (300 s)."""
    pair = login()
    now = int(time.time())
    old = craft(access_claims(pair, iat=now - 500, exp=now + 300 - offset))
    monkeypatch.setattr(services.access, "time", SimpleNamespace(time=lambda: float(now)))
    response = api.get("/whoami-pk/", **bearer(old))
    assert response.status_code == 200
    assert (_new_token(response) is not None) is slides


def test_header_name_is_configurable(api, user, login, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "NEW_TOKEN_HEADER": "X-New-Access-Token"}
    pair = login()
    response = api.get("/whoami-pk/", **bearer(access_token(pair, remaining=60)))
    assert _new_token(response, "X-New-Access-Token") and HEADER not in response
    assert response["Access-Control-Expose-Headers"] == "X-New-Access-Token"


def test_expose_header_is_merged(api, user, login):
    pair = login()
    response = api.get("/exposing/", **bearer(access_token(pair, remaining=60)))
    assert response["Access-Control-Expose-Headers"] == f"X-Request-Id, {HEADER}"
    plain = api.get("/exposing/", **bearer(pair["access"]))
    assert plain["Access-Control-Expose-Headers"] == "X-Request-Id"


def test_no_reissue_on_error_responses(api, user, login):
    pair = login()
    near = access_token(pair, remaining=60)
    response = api.get("/plain-error/", **bearer(near))
    assert response.status_code == 400 and _new_token(response) is None
    not_found = api.get("/api/auth/sessions/0b6f1a4e-95e6-4c4a-9d35-111111111111/",
                        **bearer(near))
    assert not_found.status_code == 405 and _new_token(not_found) is None


def test_a_successor_stored_by_the_read_is_withdrawn_when_the_response_is_an_error(
        api, user, login, redis_wire):
    """Authentication stores the successor in its own round trip; a response that does not
    carry it (here DRF's 405, after authentication) deletes it, so the old token is not
    refused after GRACE_PERIOD for a token its client never got."""
    pair = login()
    near = access_token(pair, remaining=60)
    jti = jwt.decode(near, KEY, algorithms=["HS256"])["jti"]
    redis_wire.clear()
    refused = api.get("/api/auth/sessions/0b6f1a4e-95e6-4c4a-9d35-111111111111/",
                      **bearer(near))
    assert refused.status_code == 405 and _new_token(refused) is None
    assert [names for kind, names in redis_wire if kind == "send"] == [["MGET", "SET"], ["DEL"]]
    assert store.cache().get(store.successor_key(pair["session_id"], jti)) is None
    # The next successful response slides the token as if nothing had happened.
    redis_wire.clear()
    assert _new_token(api.get("/whoami-pk/", **bearer(near)))
    assert [names for kind, names in redis_wire if kind == "send"] == [["MGET", "SET"]]


def test_a_connection_lost_under_the_sliding_read_is_retried(api, user, login, monkeypatch):
    """The read and the successor's SET NX go out in one write on a pooled connection; if
    that connection is dead (Redis restarted), they go again through the client's pipeline,
    with its retries, instead of failing the request."""
    import redis.connection

    pair = login()
    near = access_token(pair, remaining=60)
    send = redis.connection.AbstractConnection.send_packed_command
    failed = []

    def dead_once(self, command, check_health=True):
        if not failed:
            failed.append(True)
            raise redis.exceptions.ConnectionError("connection reset")
        return send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", dead_once)
    response = api.get("/whoami-pk/", **bearer(near))
    assert failed and response.status_code == 200 and _new_token(response)


def test_no_reissue_for_a_revoked_session(api, user, login):
    pair = login()
    near = access_token(pair, remaining=60)
    services.revoke_session(pair["session_id"], "admin")
    for path in ("/whoami-pk/", "/plain/"):
        response = api.get(path, **bearer(near))
        assert _new_token(response) is None
    assert api.get("/whoami-pk/", **bearer(near)).json()["code"] == "session_revoked"


def test_no_reissue_for_session_cookie_auth(api, user, password):
    assert api.login(username="alice", password=password)
    response = api.get("/session-auth/")
    assert response.status_code == 200 and _new_token(response) is None


def test_no_reissue_for_refresh_tokens(api, user, login):
    pair = login()
    for path in ("/whoami-pk/", "/plain/"):
        assert _new_token(api.get(path, **bearer(pair["refresh"]))) is None


def test_never_slides_near_the_session_end(api, user, login):
    pair = login()
    now = int(time.time())
    # The session's refresh token expires in 10 minutes: a 15 minute successor would
    # outlive it, so the client is left to refresh instead.
    near_end = craft(access_claims(pair, iat=now - 840, exp=now + 60, sxp=now + 600))
    response = api.get("/whoami-pk/", **bearer(near_end))
    assert response.status_code == 200 and _new_token(response) is None
    # With room for a full successor plus the threshold, it slides.
    room = craft(access_claims(pair, iat=now - 840, exp=now + 60, sxp=now + 900 + 300 + 5))
    assert _new_token(api.get("/whoami-pk/", **bearer(room))) is not None


def test_plain_django_views_slide_too(api, user, login, django_assert_num_queries):
    pair = login()
    with django_assert_num_queries(0):
        response = api.get("/plain/", **bearer(access_token(pair, remaining=60)))
    assert response.status_code == 200 and _new_token(response)
    assert _new_token(api.get("/plain/", **bearer(pair["access"]))) is None
    assert _new_token(api.get("/plain/", HTTP_AUTHORIZATION="Bearer garbage")) is None


def test_async_views_slide_too(async_client, user, login, monkeypatch):
    import asyncio

    pair = login()
    async_calls = []
    original = services.aslide

    async def recording_aslide(grant):
        async_calls.append(grant.session_id)
        return await original(grant)

    monkeypatch.setattr(services, "aslide", recording_aslide)

    async def go():
        return await async_client.get(
            "/async-plain/",
            headers={"Authorization": f"Bearer {access_token(pair, remaining=60)}"},
        )

    response = asyncio.run(go())
    assert response.status_code == 200 and _new_token(response)
    assert async_calls == [pair["session_id"]]  # the async path, no thread hop for it


def test_token_slid_signal_is_sent_once_per_replaced_token(api, user, login):
    pair = login()
    received = []
    handler = lambda **kwargs: received.append(kwargs)  # noqa: E731
    signals.token_slid.connect(handler)
    try:
        old = access_token(pair, remaining=60)
        for _ in range(3):
            api.get("/whoami-pk/", **bearer(old))
    finally:
        signals.token_slid.disconnect(handler)
    assert len(received) == 1
    assert received[0]["session_id"] == pair["session_id"]
    assert received[0]["old_jti"] == jwt.decode(old, KEY, algorithms=["HS256"])["jti"]


def test_no_database_write_on_any_request(api, user, login, django_assert_num_queries):
    pair = login()
    session = DeviceSession.objects.get(pk=pair["session_id"])
    near = access_token(pair, remaining=60)
    with django_assert_num_queries(0):
        for _ in range(5):
            api.get("/whoami-pk/", **bearer(near))
    assert DeviceSession.objects.get(pk=pair["session_id"]).last_used_at == session.last_used_at
    assert tokens.decode_access(near).sid == pair["session_id"]
