"""Redis Sentinel (django-redis SentinelClient): a forced failover under steady load."""

import time

import pytest
import requests

from django_doubletoken import services

from .load import OK, UNAVAILABLE, SessionLoad, login
from .servers import SentinelSet, app_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sentinel_set(tmp_path, settings):
    servers = SentinelSet(tmp_path).start()
    settings.CACHES = servers.caches()
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "REVOCATION_REPLICA_ACKS": 1}
    yield servers
    servers.stop()


@pytest.mark.parametrize("how", ["graceful", "crash"])
def test_failover_under_load(sentinel_set, user, password, how):
    acks = {"REVOCATION_REPLICA_ACKS": 1}
    with app_server("gunicorn", caches=sentinel_set.caches(), doubletoken=acks) as base:
        live, revoked = login(base, password, "live"), login(base, password, "revoked")
        services.revoke_session(revoked["session_id"], "admin")  # WAITs for the replica
        with SessionLoad(base, live, revoked) as load:
            time.sleep(1)
            old_primary = sentinel_set.primary_port()
            sentinel_set.failover(how)
            assert sentinel_set.primary_port() == sentinel_set.replica.port != old_primary
            time.sleep(2)
            load.settle()
        # Only 200 or 503, the revoked session never let in, everything working again after
        # the switch without restarting Django, one generation per successful rotation.
        load.assert_safe({OK, UNAVAILABLE})


def test_concurrent_slides_get_one_successor_when_reads_go_to_replicas(sentinel_set, user,
                                                                        password):
    from concurrent.futures import ThreadPoolExecutor

    from .helpers import access_token

    with app_server("gunicorn", caches=sentinel_set.caches()) as base:
        pair = requests.post(f"{base}/api/auth/login/", timeout=30, json={
            "username": "alice", "password": password}).json()
        for _ in range(3):
            near = access_token(pair, remaining=60)

            def call(_, near=near):
                response = requests.get(f"{base}/api/me/", timeout=30,
                                        headers={"Authorization": f"Bearer {near}"})
                return response.status_code, response.headers.get("NEW_HTTP_AUTHORIZATION")

            with ThreadPoolExecutor(max_workers=30) as pool:
                results = list(pool.map(call, range(30)))
            assert {status for status, _ in results} == {200}
            assert len({header for _, header in results}) == 1
