"""The core contract on every cache backend users run: login, a request, a slide, a refresh,
a revocation on the next request, one cache command per request, one successor however many
requests race, 503 when the cache is gone, and clean system checks.

Each backend gets servers of its own for the module (tests/backends.py); the tests below run
once per backend through the ``backend`` fixture.
"""

import asyncio
import tempfile
import threading
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from django_doubletoken import services, store
from django_doubletoken.checks import check_cache_backend, check_settings
from django_doubletoken.models import DeviceSession

from .backends import BACKENDS
from .helpers import access_token, bearer

pytestmark = pytest.mark.django_db

HEADER = "NEW_HTTP_AUTHORIZATION"


@pytest.fixture(scope="module", params=list(BACKENDS))
def backend_servers(request):
    directory = Path(tempfile.mkdtemp(prefix=f"doubletoken-{request.param}-"))
    servers = BACKENDS[request.param](directory).start()
    yield servers
    servers.stop()


@pytest.fixture
def backend(backend_servers, settings):
    settings.CACHES = backend_servers.caches()
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **backend_servers.doubletoken()}
    backend_servers.flush()
    return backend_servers


def _new_token(response):
    value = response.get(HEADER)
    return value.removeprefix("Bearer ") if value else None


def _code(response):
    return response.status_code, response.json().get("code")


def test_login_slide_refresh_and_revoke_on_the_next_request(backend, api, user, login,
                                                           django_assert_num_queries):
    pair = login()
    backend.await_replicas()  # the state a login wrote, on the replica that serves reads
    with django_assert_num_queries(0):
        assert _code(api.get("/whoami-pk/", **bearer(pair["access"]))) == (200, None)

    near = access_token(pair, remaining=60)
    slid = api.get("/whoami-pk/", **bearer(near))
    new = _new_token(slid)
    assert slid.status_code == 200 and new
    assert _new_token(api.get("/whoami-pk/", **bearer(near))) == new  # same one within grace
    assert _code(api.get("/api/me/", **bearer(new))) == (200, None)

    refreshed = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 200
    rotated = refreshed.json()
    assert DeviceSession.objects.get(pk=pair["session_id"]).refresh_generation == 1
    assert _code(api.get("/api/me/", **bearer(rotated["access"]))) == (200, None)

    other = login(device="other")
    assert api.post("/api/auth/logout/", **bearer(rotated["access"])).status_code == 204
    for token in (pair["access"], new, rotated["access"]):
        assert _code(api.get("/api/me/", **bearer(token))) == (401, "session_revoked")
    assert _code(api.get("/api/me/", **bearer(other["access"]))) == (200, None)

    # Flushed or failed-over to an empty cache: the revocation is read back from the database.
    backend.flush()
    assert _code(api.get("/api/me/", **bearer(rotated["access"]))) == (401, "session_revoked")


def test_a_request_is_one_cache_command(backend, api, user, login):
    pair = login()
    api.get("/whoami-pk/", **bearer(pair["access"]))  # connections made, state cached
    backend.await_replicas()
    backend.reset_stats()
    for _ in range(5):
        assert api.get("/whoami-pk/", **bearer(pair["access"])).status_code == 200
    assert backend.data_commands() == {
        command: 5 * calls for command, calls in backend.request_read.items()}


def test_racing_slides_of_one_token_store_one_successor(backend, user, login):
    pair = login()
    sid, jti = pair["session_id"], "racing-jti"
    barrier = threading.Barrier(12)
    stored = []

    def slide(n):
        barrier.wait()
        stored.append(store.add_successor(sid, jti, store.Successor(f"token-{n}", n), 60))

    threads = [threading.Thread(target=slide, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stored) == 12 and len(set(stored)) == 1
    assert store.read_request_state(sid, jti).successor == stored[0]


def test_the_async_path(backend, async_client, user, login, monkeypatch):
    pair = login()
    async_reads = []
    original = store.async_cache

    def recording_async_cache():
        cache = original()
        async_reads.append(type(cache).__name__)
        return cache

    monkeypatch.setattr(store.base, "async_cache", recording_async_cache)
    near = access_token(pair, remaining=60)
    current = {"Authorization": f"Bearer {pair['access']}"}

    async def go():
        # One event loop for the whole test: natively async pools belong to their loop.
        await async_client.get("/bearer/async/", headers=current)  # connect, cache the state
        backend.reset_stats()
        statuses = [(await async_client.get("/bearer/async/", headers=current)).status_code
                    for _ in range(5)]
        reads = backend.data_commands()
        near_response = await async_client.get("/async-plain/",
                                               headers={"Authorization": f"Bearer {near}"})
        return statuses, reads, near_response

    statuses, reads, response = asyncio.run(go())
    # One round trip per request on every backend: natively async caches await it, the others
    # run their sync get_many in one thread hop (Django's default aget_many sends one GET per
    # key).
    assert statuses == [200] * 5
    assert reads == {command: 5 * calls for command, calls in backend.request_read.items()}
    new = _new_token(response)
    assert response.status_code == 200 and new
    assert async_reads  # the middleware's async path read the cache
    # What the async path stored, the sync path sees: the same successor, no second one.
    assert _new_token(APIClient().get("/plain/", **bearer(near))) == new
    if backend.doubletoken().get("ASYNC_CACHE_ALIAS"):
        assert set(async_reads) == {"AsyncValkeyCache"}


def test_a_lost_cache_is_503_and_changes_nothing(backend, api, user, login, password, settings):
    pair = login()
    settings.CACHES = backend.unreachable_caches()
    for response in (
        api.post("/api/auth/login/", {"username": "alice", "password": password}, format="json"),
        api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json"),
        api.post("/api/auth/logout/", **bearer(pair["access"])),
        api.get("/api/me/", **bearer(pair["access"])),
    ):
        assert _code(response) == (503, "cache_unavailable")
    session = DeviceSession.objects.get()
    assert session.refresh_generation == 0 and session.revoked_at is None


def test_system_checks_accept_it(backend):
    assert check_settings() == []
    assert check_cache_backend() == []


def test_revocation_waits_for_a_replica_where_there_is_one(backend, user, login, caplog):
    if not backend.doubletoken().get("REVOCATION_REPLICA_ACKS"):
        pytest.skip("no replicas")
    pair = login()
    services.revoke_session(pair["session_id"], "admin")
    assert "acknowledged by" not in caplog.text and "failed" not in caplog.text
