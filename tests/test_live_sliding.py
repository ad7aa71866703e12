"""Sliding against a live server with real threads."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import jwt
import pytest
import requests

from .helpers import KEY, access_token

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "NEW_HTTP_AUTHORIZATION"


def _login(base, password):
    response = requests.post(f"{base}/api/auth/login/",
                             json={"username": "alice", "password": password}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_fifty_concurrent_requests_get_one_successor(live_server, user, password, settings):
    # Long enough for 50 concurrent calls to land inside it on a loaded 2-core CI machine.
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "GRACE_PERIOD": timedelta(seconds=5)}
    base = live_server.url
    pair = _login(base, password)
    old = access_token(pair, remaining=90)
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=50))

    def call(_):
        response = session.get(f"{base}/api/me/", headers={"Authorization": f"Bearer {old}"},
                               timeout=30)
        return response.status_code, response.headers.get(HEADER)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(call, range(50)))
    assert [status for status, _ in results] == [200] * 50
    successors = {header for _, header in results}
    assert len(successors) == 1 and None not in successors
    new = successors.pop().removeprefix("Bearer ")

    time.sleep(5.5)  # past the grace window
    refused = requests.get(f"{base}/api/me/", headers={"Authorization": f"Bearer {old}"},
                           timeout=10)
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    accepted = requests.get(f"{base}/api/me/", headers={"Authorization": f"Bearer {new}"},
                            timeout=10)
    assert accepted.status_code == 200 and HEADER not in accepted.headers


def test_a_client_using_only_the_header_stays_signed_in(live_server, user, password, settings):
    """Short lifetimes: access 3 s, slide at 2 s left, refresh token 15 s, no leeway.

    Riding only on NEW_HTTP_AUTHORIZATION, the client stays signed in across several access
    lifetimes; sliding stops early enough that its refresh token still works afterwards.
    """
    settings.DOUBLETOKEN = {
        **settings.DOUBLETOKEN,
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=3),
        "REFRESH_TOKEN_LIFETIME": timedelta(seconds=15),
        "SESSION_LIFETIME": timedelta(seconds=60),
        "SLIDING_THRESHOLD": timedelta(seconds=2),
        "GRACE_PERIOD": timedelta(seconds=1),
        "LEEWAY": timedelta(0),
        "CLIENT_PROFILES": {"web": {}},
    }
    base = live_server.url
    started = time.time()
    pair = _login(base, password)
    token, seen = pair["access"], {pair["access"]}
    last_ok = started
    while time.time() - started < 25:
        response = requests.get(f"{base}/api/me/", headers={"Authorization": f"Bearer {token}"},
                                timeout=10)
        if response.status_code != 200:
            break
        last_ok = time.time()
        if HEADER in response.headers:
            token = response.headers[HEADER].removeprefix("Bearer ")
            seen.add(token)
        time.sleep(0.25)
    assert response.status_code == 401 and response.json()["code"] == "token_expired"
    signed_in_for = last_ok - started
    assert signed_in_for >= 3 * 3, signed_in_for  # at least three access lifetimes
    assert len(seen) >= 4
    last_claims = jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False})
    assert last_claims["exp"] <= last_claims["sxp"] - 2
    # The refresh token is still valid when the last slid token runs out.
    refreshed = requests.post(f"{base}/api/auth/refresh/", json={"refresh": pair["refresh"]},
                              timeout=10)
    assert refreshed.status_code == 200, refreshed.text
    me = requests.get(f"{base}/api/me/",
                      headers={"Authorization": f"Bearer {refreshed.json()['access']}"},
                      timeout=10)
    assert me.status_code == 200
