"""Revocation reaches the next request, survives a Redis flush, and costs one round trip."""

from datetime import timedelta

import pytest
from django.utils import timezone

from django_doubletoken import services, store
from django_doubletoken.models import DeviceSession
from django_doubletoken.store import SessionState

from .helpers import bearer

pytestmark = pytest.mark.django_db


def test_authenticated_request_costs_one_round_trip_and_no_query(
    api, user, login, counting_cache, django_assert_num_queries
):
    pair = login()
    counting_cache.calls.clear()
    for _ in range(3):
        with django_assert_num_queries(0):
            response = api.get("/whoami-pk/", **bearer(pair["access"]))
        assert response.status_code == 200
        assert response.json() == {"pk": user.pk, "sid": pair["session_id"]}
    assert counting_cache.calls == ["get_many"] * 3


def test_last_used_is_written_at_most_once_per_interval(
    api, user, login, real_redis, django_assert_num_queries
):
    pair = login()
    before = DeviceSession.objects.get(pk=pair["session_id"]).last_used_at
    # The interval has run out: the marker key is gone.
    store.cache().delete(store.used_key(pair["session_id"]))
    with django_assert_num_queries(1):  # the UPDATE of last_used_at
        assert api.get("/whoami-pk/", **bearer(pair["access"])).status_code == 200
    with django_assert_num_queries(0):
        assert api.get("/whoami-pk/", **bearer(pair["access"])).status_code == 200
    assert DeviceSession.objects.get(pk=pair["session_id"]).last_used_at > before
    ttl = real_redis.ttl(store.cache().make_key(store.used_key(pair["session_id"])))
    assert 0 < ttl <= 300


def test_revocation_survives_a_redis_flush(api, user, login, real_redis,
                                           django_assert_num_queries):
    pair, other = login(), login()
    assert api.post("/api/auth/logout/", **bearer(pair["access"])).status_code == 204
    real_redis.flushdb()
    # The state is read through from the database once, then cached again.
    with django_assert_num_queries(1):
        response = api.get("/whoami-pk/", **bearer(pair["access"]))
    assert response.status_code == 401 and response.json()["code"] == "session_revoked"
    with django_assert_num_queries(0):
        response = api.get("/whoami-pk/", **bearer(pair["access"]))
    assert response.json()["code"] == "session_revoked"
    # An active session simply refills (plus the throttled last_used write).
    with django_assert_num_queries(2):
        assert api.get("/whoami-pk/", **bearer(other["access"])).status_code == 200
    with django_assert_num_queries(0):
        assert api.get("/whoami-pk/", **bearer(other["access"])).status_code == 200


def test_a_refill_never_overwrites_a_revocation(user, login):
    pair = login()
    sid = pair["session_id"]
    store.mark_revoked({sid: SessionState(str(user.pk), "logout")}, 60)
    # A read-through that loaded the row just before the revocation committed.
    store.remember_session(sid, SessionState(str(user.pk), ""), 60)
    assert store.read_request_state(sid, "jti").session.revoked


def test_cached_state_expires_on_its_own(user, login, real_redis):
    pair = login()
    key = store.cache().make_key(store.session_key(pair["session_id"]))
    assert 23 * 3600 < real_redis.ttl(key) <= 24 * 3600 + 10  # until the refresh expiry
    services.revoke_session(pair["session_id"], "logout")
    # Until no access token of any profile can still be valid: the longest access lifetime
    # (mobile, 30 min) + leeway + grace.
    assert 30 * 60 < real_redis.ttl(key) <= 30 * 60 + 10 + 30


def test_revocation_of_many_sessions_reports_the_count(user, login):
    for _ in range(3):
        login()
    assert services.revoke_user_sessions(user, "admin_kick") == 3
    assert services.revoke_user_sessions(user, "admin_kick") == 0


def test_session_limit_per_profile(api, user, login, settings):
    settings.DOUBLETOKEN = {
        **settings.DOUBLETOKEN,
        "CLIENT_PROFILES": {"web": {}, "mobile": {"MAX_SESSIONS": 2}},
    }
    first, second = login(client="mobile"), login(client="mobile")
    web = login(client="web")
    third = login(client="mobile")
    assert api.get("/api/me/", **bearer(first["access"])).json()["code"] == "session_revoked"
    for pair in (second, third, web):
        assert api.get("/api/me/", **bearer(pair["access"])).status_code == 200
    assert DeviceSession.objects.get(pk=first["session_id"]).revoke_reason == "session_limit"


def test_active_queryset(user, login):
    live, revoked, expired = login(), login(), login()
    services.revoke_session(revoked["session_id"], "logout")
    DeviceSession.objects.filter(pk=expired["session_id"]).update(
        refresh_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert list(DeviceSession.objects.active().values_list("pk", flat=True)) == [
        DeviceSession.objects.get(pk=live["session_id"]).pk
    ]
