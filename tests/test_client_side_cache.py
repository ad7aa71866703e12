"""CLIENT_SIDE_CACHE: request state held in process memory, invalidated by Redis
(CLIENT TRACKING). Counts round trips; the cross-process proof is in
test_client_side_cache_live.py."""

import pickle
from datetime import timedelta

import pytest
import redis

from django_doubletoken import client_side_cache, services, store, tokens

from .helpers import bearer
from .servers import RedisServer, cache_config

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def private_redis():
    """A Redis of these tests' own: a FLUSHDB anywhere on a server invalidates every tracking
    client of it, so the suite's other session would disturb the round-trip counts here."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def real_redis(private_redis):
    client = redis.Redis.from_url(private_redis.url)
    client.flushdb()
    return client


@pytest.fixture
def tracked(settings, private_redis):
    settings.CACHES = cache_config(private_redis.url)
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "CLIENT_SIDE_CACHE": True}
    yield
    client_side_cache.reset()


def _tracker():
    found = client_side_cache.tracker(store.cache())
    assert found is not None
    return found


def _me(api, pair):
    response = api.get("/whoami-pk/", **bearer(pair["access"]))
    return response.status_code, response.json().get("code")


def _write_as_another_process(real_redis, key, value):
    """What another worker's revocation looks like here: only Redis' invalidation tells us.

    Written twice, as ``services`` revokes (before and after the commit): Redis may send the
    writer its reply a moment before it hands the listener the invalidation of that same write
    (both leave in one pass of its event loop), so a single write can be missed for
    microseconds; the invalidation of the first write has left before the second is read."""
    raw = store.cache().make_key(key)
    for _ in range(2):
        real_redis.set(raw, pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def test_steady_state_requests_make_no_round_trip(
    api, user, login, tracked, counting_cache, django_assert_num_queries
):
    pair = login()
    counting_cache.calls.clear()
    with django_assert_num_queries(0):
        assert _me(api, pair) == (200, None)
    assert counting_cache.calls == ["tracked mget"]
    counting_cache.calls.clear()
    with django_assert_num_queries(0):
        for _ in range(5):
            assert _me(api, pair) == (200, None)
    assert counting_cache.calls == []


def test_a_write_elsewhere_reaches_the_next_request(api, user, login, tracked, real_redis,
                                                    counting_cache):
    pair = login()
    assert _me(api, pair) == (200, None)
    _write_as_another_process(real_redis, store.session_key(pair["session_id"]),
                              (str(user.pk), "logout"))
    counting_cache.calls.clear()
    assert _me(api, pair) == (401, "session_revoked")
    assert counting_cache.calls == ["tracked mget"]  # re-read once, then held again
    assert _me(api, pair) == (401, "session_revoked")
    assert counting_cache.calls == ["tracked mget"]


def test_revocation_in_this_process_is_seen_at_once(api, user, login, tracked):
    pair = login()
    assert _me(api, pair) == (200, None)
    services.revoke_user_sessions(user, "logout")
    assert _me(api, pair) == (401, "session_revoked")


def test_expiry_and_deletion_invalidate(api, user, login, tracked, real_redis, counting_cache):
    pair = login()
    assert _me(api, pair) == (200, None)
    real_redis.delete(store.cache().make_key(store.session_key(pair["session_id"])))
    counting_cache.calls.clear()
    assert _me(api, pair) == (200, None)  # read through from the database, cached again
    assert "tracked mget" in counting_cache.calls


def test_a_flush_drops_everything(api, user, login, tracked, real_redis, counting_cache):
    pair = login()
    assert _me(api, pair) == (200, None)
    services.revoke_user_sessions(user, "logout")
    real_redis.flushdb()
    counting_cache.calls.clear()
    assert _me(api, pair) == (401, "session_revoked")  # from the database again
    assert counting_cache.calls[0] == "tracked mget"


def test_a_lost_listener_drops_the_local_state(api, user, login, tracked, real_redis,
                                               counting_cache):
    pair = login()
    assert _me(api, pair) == (200, None)
    tracker = _tracker()
    assert len(tracker) == 3
    real_redis.client_kill_filter(_id=tracker.client_ids[0])  # as a Redis restart would
    _write_as_another_process(real_redis, store.session_key(pair["session_id"]),
                              (str(user.pk), "logout"))
    counting_cache.calls.clear()
    assert _me(api, pair) == (401, "session_revoked")
    assert counting_cache.calls == ["tracked mget"]


def test_a_lost_data_connection_drops_the_local_state(api, user, login, tracked, real_redis):
    pair = login()
    assert _me(api, pair) == (200, None)
    tracker = _tracker()
    real_redis.client_kill_filter(_id=tracker.client_ids[1])
    # Redis forgot what that connection tracked: no invalidation will come for this write.
    _write_as_another_process(real_redis, store.session_key(pair["session_id"]),
                              (str(user.pk), "logout"))
    assert _me(api, pair) == (401, "session_revoked")


def test_memory_is_bounded(api, user, login, tracked, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "CLIENT_SIDE_CACHE_MAX_ENTRIES": 7}
    pairs = [login() for _ in range(6)]
    for pair in pairs:
        assert _me(api, pair) == (200, None)
        assert len(_tracker()) <= 7
    assert _me(api, pairs[-1]) == (200, None)


def test_entries_are_read_again_after_max_age(api, user, login, tracked, settings,
                                              counting_cache):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN,
                            "CLIENT_SIDE_CACHE_MAX_AGE": timedelta(microseconds=1)}
    pair = login()
    counting_cache.calls.clear()
    for _ in range(3):
        assert _me(api, pair) == (200, None)
    assert counting_cache.calls == ["tracked mget"] * 3


@pytest.fixture
def signed(monkeypatch):
    """The access tokens signed from now on (their claims)."""
    found = []
    encode_access = tokens.encode_access
    monkeypatch.setattr(tokens, "encode_access",
                        lambda **claims: found.append(claims) or encode_access(**claims))
    return found


def test_sliding_inside_the_window_stays_within_budget(api, user, login, tracked,
                                                       counting_cache, signed):
    from .helpers import access_token

    pair = login()
    near = access_token(pair, remaining=60)
    counting_cache.calls.clear()
    signed.clear()
    first = api.get("/whoami-pk/", **bearer(near))
    assert counting_cache.calls == ["tracked mget", "add"]
    assert len(signed) == 1  # the successor, signed once: no offer made for a read that cannot
    second = api.get("/whoami-pk/", **bearer(near))
    assert first.status_code == second.status_code == 200
    assert first["NEW_HTTP_AUTHORIZATION"] == second["NEW_HTTP_AUTHORIZATION"]
    # The successor this process wrote is read back once, not assumed absent.
    assert counting_cache.calls == ["tracked mget", "add", "tracked mget"]


def _assert_untracked_one_round_trip(api, login, request):
    """The cache as now configured gets no tracker, and a request makes the plain single
    ``get_many``. (``counting_cache`` is requested here, after the test changed CACHES.)"""
    counting_cache = request.getfixturevalue("counting_cache")
    pair = login()
    assert client_side_cache.tracker(store.cache()) is None
    counting_cache.calls.clear()
    assert _me(api, pair) == (200, None)
    assert counting_cache.calls == ["get_many"]


@pytest.mark.parametrize("path", ["/whoami-pk/", "/bearer/async/"])
def test_a_read_that_cannot_take_an_offer_makes_none(client, user, login, settings,
                                                     private_redis, signed, path):
    """A backend without a raw single-node client (sharding, here; a cluster) reads and adds
    the successor apart: it is signed once, by the slide, on the sync and the async path."""
    from .helpers import access_token

    settings.CACHES = {"default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": [private_redis.url],
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"},
    }}
    near = access_token(login(), remaining=60)
    signed.clear()
    response = client.get(path, **bearer(near))
    assert response.status_code == 200 and response["NEW_HTTP_AUTHORIZATION"]
    assert len(signed) == 1


def test_backends_that_cannot_track_keep_one_round_trip(api, user, login, tracked, settings,
                                                        private_redis, request):
    settings.CACHES = {"default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": [private_redis.url],
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"},
    }}
    _assert_untracked_one_round_trip(api, login, request)


def test_a_server_refusing_tracking_falls_back(api, user, login, tracked, settings,
                                               real_redis, request):
    name = "doubletoken-no-client-tracking"
    real_redis.acl_setuser(name, enabled=True, nopass=True, keys=["*"],
                           commands=["+@all", "-client|tracking"], reset=True)
    try:
        url = redis.connection.parse_url(settings.CACHES["default"]["LOCATION"])
        settings.CACHES = {"default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://{name}@{url['host']}:{url['port']}/{url.get('db', 0)}",
        }}
        _assert_untracked_one_round_trip(api, login, request)
    finally:
        real_redis.acl_deluser(name)


def test_the_async_path_answers_from_memory(user, login, tracked, counting_cache):
    from asgiref.sync import async_to_sync

    pair = login()
    claims = tokens.decode_access(pair["access"])
    counting_cache.calls.clear()
    first = async_to_sync(store.aread_request_state)(claims.sid, claims.jti)
    assert counting_cache.calls == ["tracked mget"]  # the round trip, in a thread
    second = async_to_sync(store.aread_request_state)(claims.sid, claims.jti)
    assert counting_cache.calls == ["tracked mget"]  # from memory, no thread hop needed
    assert first == second and first.session.user == str(user.pk)


def test_the_async_path_never_waits_for_a_busy_tracker(user, login, tracked):
    pair = login()
    keys = [store.session_key(pair["session_id"])]
    tracker = _tracker()
    assert tracker.get_many(keys)
    with tracker._lock:  # another thread in the middle of an MGET
        assert tracker.get_many_local(keys) is None
    assert tracker.get_many_local(keys) is not None
