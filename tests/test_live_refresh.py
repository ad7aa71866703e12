"""Concurrent refreshes of one refresh token against a live server, with real threads."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from django_doubletoken.models import DeviceSession

CONCURRENCY = 40


def _concurrent_refreshes(base, password):
    login = requests.post(f"{base}/api/auth/login/",
                          json={"username": "alice", "password": password}, timeout=10).json()
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=CONCURRENCY))

    def call(_):
        response = session.post(f"{base}/api/auth/refresh/", json={"refresh": login["refresh"]},
                                timeout=60)
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        results = list(pool.map(call, range(CONCURRENCY)))
    assert [status for status, _ in results] == [200] * CONCURRENCY, results[:3]
    pairs = {(body["access"], body["refresh"]) for _, body in results}
    assert len(pairs) == 1  # every tab got the same successor pair
    assert DeviceSession.objects.get(pk=login["session_id"]).refresh_generation == 1
    (access, refresh), = pairs
    me = requests.get(f"{base}/api/me/", headers={"Authorization": f"Bearer {access}"},
                      timeout=10)
    assert me.status_code == 200
    assert requests.post(f"{base}/api/auth/refresh/", json={"refresh": refresh},
                         timeout=10).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_rotate_once_on_postgres(live_server, user, password):
    _concurrent_refreshes(live_server.url, password)


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_rotate_once_on_sqlite(live_server, user, password):
    _concurrent_refreshes(live_server.url, password)
