"""The replay record of a DPoP request joins its one cache round trip: counted at the socket
(every write of a command, or of a pipeline of them, to Redis), against a real Redis."""

import asyncio
import tempfile
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from django_doubletoken import client_side_cache, dpop, store

from .backends import BACKENDS
from .dpop_keys import ProofKey
from .servers import RedisServer, cache_config

RECORD = dpop.ReplayEntry(dpop.replay_key("jkt-of-a-key", "jti-1"), 60)


def _state(sid="sid-1", jti="jti-a"):
    store.remember_session(sid, store.SessionState("7", ""), 60)  # connections opened
    return sid, jti


@pytest.mark.parametrize("read", ["sync", "async"])
def test_the_state_read_and_the_replay_record_are_one_round_trip(read, round_trips):
    sid, jti = _state()
    call = store.read_request_state if read == "sync" else async_to_sync(
        store.aread_request_state)
    round_trips.clear()
    first = call(sid, jti, RECORD)
    assert len(round_trips) == 1
    assert first.session == store.SessionState("7", "") and first.replay_created is True
    round_trips.clear()
    again = call(sid, jti, RECORD)
    assert len(round_trips) == 1
    assert again.session == first.session and again.replay_created is False
    # The record is what record_replay would have written: it refuses the proof too.
    with pytest.raises(dpop.ProofError, match="already used"):
        dpop.record_replay(RECORD)
    assert 0 < store.cache().ttl(RECORD.key) <= 60
    # Without a record to make, the read is what it always was.
    assert call(sid, jti).replay_created is None


def test_a_backend_without_a_pipeline_takes_two_calls(settings, counting_cache):
    servers = [RedisServer().start() for _ in range(2)]
    try:
        settings.CACHES = {"default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": [server.url for server in servers],
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"}}}
        counting_cache._cache = store.caches["default"]
        sid, jti = _state()
        counting_cache.calls.clear()
        assert store.read_request_state(sid, jti, RECORD).replay_created is True
        assert counting_cache.calls == ["get_many", "add"]
        assert store.read_request_state(sid, jti, RECORD).replay_created is False
    finally:
        for server in servers:
            server.stop()


def test_with_client_side_cache_the_record_is_the_only_round_trip(settings, round_trips):
    server = RedisServer().start()
    try:
        settings.CACHES = cache_config(server.url)
        settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "CLIENT_SIDE_CACHE": True}
        sid, jti = _state()
        store.read_request_state(sid, jti)  # tracked from now on
        entry = dpop.ReplayEntry(dpop.replay_key("jkt", "steady"), 60)
        for created in (True, False):  # recorded, then refused as a replay
            round_trips.clear()
            state = store.read_request_state(sid, jti, entry)
            assert state.session == store.SessionState("7", "")
            assert state.replay_created is created
            assert len(round_trips) == 1  # the SET NX; the state came from memory
    finally:
        client_side_cache.reset()
        server.stop()


# --- every cache backend users run (tests/backends.py) --------------------------------------

@pytest.fixture(scope="module", params=list(BACKENDS))
def backend_servers(request):
    directory = Path(tempfile.mkdtemp(prefix=f"doubletoken-dpop-{request.param}-"))
    servers = BACKENDS[request.param](directory).start()
    yield servers
    servers.stop()


@pytest.mark.django_db
def test_dpop_requests_on_every_cache_backend(backend_servers, settings, user, password,
                                              async_client):
    """Sync and async faces, the pipelined record (one node, Sentinel, Django's own Redis
    cache, django-valkey, its native async cache, Redis Cluster with the record on the key's
    node and the state on the session's): accepted once, refused as a replay."""
    settings.CACHES = backend_servers.caches()
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **backend_servers.doubletoken(),
                            "DPOP": "optional"}
    backend_servers.flush()
    key = ProofKey()
    base = "http://testserver"
    login = Client().post("/api/auth/login/", {"username": "alice", "password": password},
                          content_type="application/json",
                          HTTP_DPOP=key.proof("POST", f"{base}/api/auth/login/"))
    pair = login.json()
    assert pair["token_type"] == "DPoP", pair
    path = "/whoami-pk/"
    headers = key.headers("GET", base + path, pair["access"])
    assert Client().get(path, **headers).status_code == 200
    again = Client().get(path, **headers)
    assert (again.status_code, again.json()["code"]) == (401, "invalid_dpop_proof")

    async def twice(path):
        # One event loop for both: natively async pools belong to their loop.
        headers = key.headers("GET", base + path, pair["access"])
        sent = {k.removeprefix("HTTP_").replace("_", "-"): v for k, v in headers.items()}
        return [(await async_client.get(path, headers=sent)).status_code for _ in range(2)]

    assert asyncio.run(twice("/ninja-tests/async")) == [200, 401]
    refreshed = Client().post("/api/auth/refresh/", {"refresh": pair["refresh"]},
                              content_type="application/json",
                              HTTP_DPOP=key.proof("POST", f"{base}/api/auth/refresh/"))
    assert refreshed.status_code == 200 and refreshed.json()["token_type"] == "DPoP"


@pytest.mark.django_db
def test_a_dpop_request_with_client_side_cache_sends_only_its_replay_record(
        settings, user, password, round_trips, django_assert_num_queries):
    server = RedisServer().start()
    try:
        settings.CACHES = cache_config(server.url)
        settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "CLIENT_SIDE_CACHE": True,
                                "DPOP": "optional"}
        key, url = ProofKey(), "http://testserver/whoami-pk/"
        pair = Client().post("/api/auth/login/", {"username": "alice", "password": password},
                             content_type="application/json", HTTP_DPOP=key.proof(
                                 "POST", "http://testserver/api/auth/login/")).json()
        assert Client().get("/whoami-pk/", **key.headers("GET", url, pair["access"])
                            ).status_code == 200  # the session's state is tracked from now on
        for _ in range(3):
            round_trips.clear()
            with django_assert_num_queries(0):
                response = Client().get("/whoami-pk/", **key.headers("GET", url,
                                                                     pair["access"]))
            assert response.status_code == 200
            assert len(round_trips) == 1
            packed = b"".join(round_trips[0]) if isinstance(round_trips[0], list) else (
                round_trips[0])
            assert b"SET" in packed and b"NX" in packed and b"MGET" not in packed
    finally:
        client_side_cache.reset()
        server.stop()
