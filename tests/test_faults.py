"""Faults: Redis really stopped mid-run, the database locked or gone during a refresh."""

import sqlite3
import threading
import time

import pytest
import requests
from django.db import connection

from django_doubletoken.models import DeviceSession

from .helpers import bearer


def _status(response):
    return response.status_code, response.json().get("code") if response.content else None


@pytest.mark.django_db
def test_redis_stopped_then_back(api, user, login, password, own_redis):
    pair = login()
    rotated = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json").json()
    rows_before = list(DeviceSession.objects.values())

    own_redis.kill()
    unavailable = (503, "cache_unavailable")
    assert _status(api.get("/api/me/", **bearer(rotated["access"]))) == unavailable
    assert _status(api.post("/api/auth/login/", {"username": "alice", "password": password},
                            format="json")) == unavailable
    assert _status(api.post("/api/auth/refresh/", {"refresh": rotated["refresh"]},
                            format="json")) == unavailable
    assert _status(api.post("/api/auth/logout/", **bearer(rotated["access"]))) == unavailable
    assert _status(api.post("/api/auth/verify/", {"token": rotated["access"]},
                            format="json")) == unavailable
    # Nothing changed: no new session, no rotation, no revocation, no row touched.
    assert list(DeviceSession.objects.values()) == rows_before

    own_redis.start()  # same port, empty: like a restart without persistence
    assert api.get("/api/me/", **bearer(rotated["access"])).status_code == 200
    newer = api.post("/api/auth/refresh/", {"refresh": rotated["refresh"]}, format="json")
    assert newer.status_code == 200
    assert DeviceSession.objects.get(pk=pair["session_id"]).refresh_generation == 2
    assert api.post("/api/auth/logout/", **bearer(newer.json()["access"])).status_code == 204
    assert _status(api.get("/api/me/", **bearer(newer.json()["access"]))) == (
        401, "session_revoked")


@pytest.mark.django_db
def test_revoked_stays_revoked_across_a_redis_restart(api, user, login, own_redis):
    pair = login()
    assert api.post("/api/auth/logout/", **bearer(pair["access"])).status_code == 204
    own_redis.kill()
    own_redis.start()
    assert _status(api.get("/api/me/", **bearer(pair["access"]))) == (401, "session_revoked")


@pytest.mark.django_db(transaction=True)
def test_redis_killed_under_load(live_server, user, password, own_redis):
    base = live_server.url
    pair = requests.post(f"{base}/api/auth/login/",
                         json={"username": "alice", "password": password}, timeout=10).json()
    statuses, stop = [], threading.Event()

    def hammer():
        with requests.Session() as http:
            while not stop.is_set():
                response = http.get(f"{base}/api/me/", timeout=10,
                                    headers={"Authorization": f"Bearer {pair['access']}"})
                statuses.append((response.status_code, response.json().get("code")))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    own_redis.kill()
    time.sleep(1.0)
    own_redis.start()
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join()
    seen = set(statuses)
    assert seen <= {(200, None), (503, "cache_unavailable")}, seen  # never a 500
    assert (503, "cache_unavailable") in seen and statuses[-1] == (200, None)


@pytest.fixture
def short_sqlite_timeout():
    assert connection.vendor == "sqlite"  # this run's database; tests marked postgres skip it
    options = connection.settings_dict.setdefault("OPTIONS", {})
    saved = options.get("timeout")
    options["timeout"] = 0.3
    connection.close()
    yield connection.settings_dict["NAME"]
    options["timeout"] = saved
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_refresh_while_the_database_is_locked(api, user, login, short_sqlite_timeout):
    pair = login()
    locker = sqlite3.connect(short_sqlite_timeout)
    locker.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        response = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")
        assert _status(response) == (503, "database_unavailable")
    finally:
        locker.rollback()
        locker.close()
    # Rotation is atomic: nothing half-done, and the old refresh token still works.
    assert DeviceSession.objects.get(pk=pair["session_id"]).refresh_generation == 0
    response = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200
    assert DeviceSession.objects.get(pk=pair["session_id"]).refresh_generation == 1


@pytest.mark.django_db(transaction=True)
def test_database_gone_during_requests(api, user, login):
    pair = login()
    settings_dict = connection.settings_dict
    saved = dict(settings_dict)
    connection.close()
    settings_dict["NAME"] = "/nonexistent-dir/db.sqlite3"
    try:
        response = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")
        assert _status(response) == (503, "database_unavailable")
        # Authentication itself needs no database while the session state is cached.
        assert api.get("/whoami-pk/", **bearer(pair["access"])).status_code == 200
        listing = api.get("/api/auth/sessions/", **bearer(pair["access"]))
        assert _status(listing) == (503, "database_unavailable")
    finally:
        connection.close()
        settings_dict.update(saved)
    assert api.post("/api/auth/refresh/", {"refresh": pair["refresh"]},
                    format="json").status_code == 200
