"""The proof for CLIENT_SIDE_CACHE: a session revoked through one server process is refused
by another process's very next request, although that process holds the session's state in
memory. 1,000 times per pair of servers, 0 accepted. Every server is a separate process
(tests/servers.py) on a Redis of this module's own, so no other test's FLUSHDB helps it along
by emptying the servers' memory."""

import os
import time

import pytest
import redis
import requests

from django_doubletoken import services

from .servers import DelayingProxy, app_server, cache_config

ROUNDS = int(os.environ.get("DOUBLETOKEN_PROOF_ROUNDS", 1000))
TRACKED = {"CLIENT_SIDE_CACHE": True}


def _tracking_clients(url):
    """Connections with CLIENT TRACKING on (flag "t" in CLIENT LIST)."""
    return [c for c in redis.Redis.from_url(url).client_list() if "t" in c["flags"]]


def _revoke_here_ask_there(revoker, checker, pairs):
    """Per session: warm the checker's memory (200), log out through the revoker (204), and
    at once ask the checker again. Returns the checker's statuses for that last request."""
    with requests.Session() as here, requests.Session() as there:
        statuses = []
        for pair in pairs:
            auth = {"Authorization": f"Bearer {pair.access}"}
            assert there.get(f"{checker}/api/me/", headers=auth, timeout=30).status_code == 200
            logout = here.post(f"{revoker}/api/auth/logout/", headers=auth, timeout=30)
            assert logout.status_code == 204, logout.text
            response = there.get(f"{checker}/api/me/", headers=auth, timeout=30)
            statuses.append((response.status_code, response.json().get("code")))
        return statuses


def _sessions(user, count):
    return [services.login(user, device=f"proof {i}") for i in range(count)]


@pytest.mark.django_db(transaction=True)
def test_revoked_in_one_process_refused_by_the_next_request_in_another(user, own_redis):
    pairs = _sessions(user, ROUNDS)
    caches = cache_config(own_redis.url)
    with app_server("gunicorn", workers=1, doubletoken=TRACKED, caches=caches) as revoker, \
            app_server("gunicorn", workers=1, doubletoken=TRACKED, caches=caches) as checker:
        statuses = _revoke_here_ask_there(revoker, checker, pairs)
        assert len(_tracking_clients(own_redis.url)) == 2  # one per server process
    accepted = [status for status in statuses if status[0] == 200]
    assert accepted == []
    assert set(statuses) == {(401, "session_revoked")}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_revoked_on_one_host_refused_by_the_next_request_on_another(user, own_redis):
    """Host A (gunicorn, WSGI) revokes; host B (uvicorn, ASGI: the async path) checks."""
    pairs = _sessions(user, ROUNDS)
    caches = cache_config(own_redis.url)
    with app_server("gunicorn", workers=2, doubletoken=TRACKED, caches=caches) as host_a, \
            app_server("uvicorn", workers=1, doubletoken=TRACKED, caches=caches) as host_b:
        statuses = _revoke_here_ask_there(host_a, host_b, pairs)
    assert [status for status in statuses if status[0] == 200] == []
    assert set(statuses) == {(401, "session_revoked")}


def _slow_link_caches(url):
    config = cache_config(url)
    config["default"]["OPTIONS"] = {"SOCKET_CONNECT_TIMEOUT": 5, "SOCKET_TIMEOUT": 5}
    return config


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("client_side_cache", [False, True], ids=["round-trip", "tracked"])
def test_a_slow_link_to_one_host_is_where_the_cache_stops(user, own_redis, client_side_cache):
    """Why CLIENT_SIDE_CACHE is not the default (docs/how-to/client-side-cache.md, "Across hosts"):
    host B hears from Redis a second late (a slow or lossy link: a TCP retransmission), while
    the client reaches B at once. With the default round trip B's next request still reads
    Redis after the revocation and refuses it, late but right. With the cache, B answers from
    memory until the invalidation arrives: the revoked session is accepted by B's next request,
    and refused once the late invalidation is in."""
    delay = 1.0
    pairs = _sessions(user, 3)
    doubletoken = {"CLIENT_SIDE_CACHE": client_side_cache}
    proxy = DelayingProxy(own_redis.port, delay=delay).start()
    try:
        with app_server("gunicorn", workers=1, doubletoken=doubletoken,
                        caches=cache_config(own_redis.url)) as host_a, \
                app_server("gunicorn", workers=1, doubletoken=doubletoken,
                           caches=_slow_link_caches(proxy.url)) as host_b:
            at_once = _revoke_here_ask_there(host_a, host_b, pairs)
            time.sleep(delay + 0.5)
            later = [requests.get(f"{host_b}/api/me/", timeout=30,
                                  headers={"Authorization": f"Bearer {pair.access}"}).status_code
                     for pair in pairs]
    finally:
        proxy.stop()
    if client_side_cache:
        assert [status for status, _ in at_once] == [200] * len(pairs)
    else:
        assert set(at_once) == {(401, "session_revoked")}
    assert later == [401] * len(pairs)
