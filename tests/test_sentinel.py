"""Redis Sentinel (django-redis SentinelClient): a forced failover under steady load."""

import threading
import time

import pytest
import requests

from django_doubletoken import services
from django_doubletoken.models import DeviceSession

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
        def login(device):
            response = requests.post(f"{base}/api/auth/login/", timeout=30, json={
                "username": "alice", "password": password, "device": device})
            assert response.status_code == 200, response.text
            return response.json()

        live, revoked = login("live"), login("revoked")
        services.revoke_session(revoked["session_id"], "admin")  # WAITs for the replica

        outcomes = {"live": [], "revoked": [], "refresh": []}
        stop = threading.Event()
        refresh_token = [live["refresh"]]

        def hammer(name, token):
            with requests.Session() as http:
                while not stop.is_set():
                    response = http.get(f"{base}/api/me/", timeout=30,
                                        headers={"Authorization": f"Bearer {token}"})
                    outcomes[name].append((response.status_code, response.json().get("code")))

        def rotate():
            with requests.Session() as http:
                while not stop.is_set():
                    response = http.post(f"{base}/api/auth/refresh/", timeout=30,
                                         json={"refresh": refresh_token[0]})
                    outcomes["refresh"].append((response.status_code,
                                                response.json().get("code")))
                    if response.status_code == 200:
                        refresh_token[0] = response.json()["refresh"]
                    time.sleep(0.1)

        threads = [threading.Thread(target=hammer, args=("live", live["access"])),
                   threading.Thread(target=hammer, args=("live", live["access"])),
                   threading.Thread(target=hammer, args=("revoked", revoked["access"])),
                   threading.Thread(target=rotate)]
        for thread in threads:
            thread.start()
        time.sleep(1)
        old_primary = sentinel_set.primary_port()
        sentinel_set.failover(how)
        assert sentinel_set.primary_port() == sentinel_set.replica.port != old_primary
        time.sleep(3)
        stop.set()
        for thread in threads:
            thread.join()

        unavailable = (503, "cache_unavailable")
        assert set(outcomes["live"]) <= {(200, None), unavailable}, set(outcomes["live"])
        assert set(outcomes["revoked"]) <= {(401, "session_revoked"), unavailable}
        assert set(outcomes["refresh"]) <= {(200, None), unavailable}, set(outcomes["refresh"])
        # After the switch everything works again, without restarting Django.
        assert outcomes["live"][-1] == (200, None)
        assert outcomes["refresh"][-1] == (200, None)
        # No rotation lost or applied twice: one generation per 200.
        rotations = outcomes["refresh"].count((200, None))
        assert DeviceSession.objects.get(pk=live["session_id"]).refresh_generation == rotations
        me = requests.get(f"{base}/api/me/", timeout=30,
                          headers={"Authorization": f"Bearer {revoked['access']}"})
        assert me.json()["code"] == "session_revoked"


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
