"""Production shapes: WSGI and ASGI servers, and two independent "hosts" sharing the
database and Redis. Every server here is a separate process (tests/servers.py)."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests

from django_doubletoken.models import DeviceSession

from .helpers import access_token
from .servers import app_server

HEADER = "NEW_HTTP_AUTHORIZATION"
GRACE_SECONDS = 6


def _login(base, password, device="scale"):
    response = requests.post(f"{base}/api/auth/login/", timeout=30, json={
        "username": "alice", "password": password, "device": device})
    assert response.status_code == 200, response.text
    return response.json()


def _me(base, token):
    response = requests.get(f"{base}/api/me/", headers={"Authorization": f"Bearer {token}"},
                            timeout=30)
    return response.status_code, response.json().get("code"), response.headers.get(HEADER)


def _burst(calls):
    """Run (function, argument) pairs all at once from one thread each."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call[0](call[1]), calls))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_black_box_scenarios(kind, user, password):
    with app_server(kind) as base:
        pair = _login(base, password)
        assert _me(base, pair["access"])[0] == 200
        near = access_token(pair, remaining=60)
        results = _burst([(lambda token: _me(base, token), near)] * 20)
        assert {status for status, _, _ in results} == {200}
        successors = {header for _, _, header in results}
        assert len(successors) == 1 and None not in successors
        new = successors.pop().removeprefix("Bearer ")
        assert _me(base, new)[:2] == (200, None)
        logout = requests.post(f"{base}/api/auth/logout/", timeout=30,
                               headers={"Authorization": f"Bearer {new}"})
        assert logout.status_code == 204
        assert _me(base, new)[:2] == (401, "session_revoked")
        assert _me(base, pair["access"])[:2] == (401, "session_revoked")


def _admin_session(base, password):
    http = requests.Session()
    http.get(f"{base}/admin/login/", timeout=30)
    response = http.post(f"{base}/admin/login/?next=/admin/", timeout=30, data={
        "username": "staff", "password": password,
        "csrfmiddlewaretoken": http.cookies["csrftoken"], "next": "/admin/"},
        headers={"Referer": f"{base}/admin/login/"})
    assert response.status_code == 200 and "Log out" in response.text
    return http


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_hosts_share_everything(user, password, django_user_model):
    django_user_model.objects.create_superuser("staff", "staff@example.com", password)
    # Long enough for 50 concurrent calls to land inside it on a loaded 2-core CI machine.
    grace = {"GRACE_PERIOD": timedelta(seconds=GRACE_SECONDS)}
    with app_server("gunicorn", doubletoken=grace) as host_a, \
            app_server("uvicorn", doubletoken=grace) as host_b:
        # Revoked through host A's API: refused on host B's very next request.
        pair = _login(host_a, password, "api logout")
        assert _me(host_b, pair["access"])[0] == 200
        requests.post(f"{host_a}/api/auth/logout/", timeout=30,
                      headers={"Authorization": f"Bearer {pair['access']}"})
        assert _me(host_b, pair["access"])[:2] == (401, "session_revoked")

        # Revoked through host A's admin: refused on host B.
        pair = _login(host_b, password, "admin revoke")
        admin = _admin_session(host_a, password)
        changelist = f"{host_a}/admin/django_doubletoken/devicesession/"
        response = admin.post(changelist, timeout=30, data={
            "action": "log_out_sessions", "_selected_action": pair["session_id"],
            "csrfmiddlewaretoken": admin.cookies["csrftoken"]},
            headers={"Referer": changelist})
        assert "1 session was logged out." in response.text
        assert _me(host_b, pair["access"])[:2] == (401, "session_revoked")

        # 50 slides of one token, split across both hosts: one successor, all succeed.
        pair = _login(host_a, password, "slides")
        near = access_token(pair, remaining=60)
        results = _burst([(lambda t: _me(host_a, t), near)] * 25
                         + [(lambda t: _me(host_b, t), near)] * 25)
        assert {status for status, _, _ in results} == {200}
        assert len({header for _, _, header in results}) == 1

        # 50 refreshes of one token, split across both hosts: one rotation, one pair.
        def refresh(base):
            response = requests.post(f"{base}/api/auth/refresh/", timeout=60,
                                     json={"refresh": pair["refresh"]})
            return response.status_code, response.text

        results = _burst([(refresh, host_a)] * 25 + [(refresh, host_b)] * 25)
        assert {status for status, _ in results} == {200}
        assert len({body for _, body in results}) == 1
        assert DeviceSession.objects.get(pk=pair["session_id"]).refresh_generation == 1

        # The rotated token replayed on the other host after the grace window: reuse.
        time.sleep(GRACE_SECONDS + 0.5)
        replay = requests.post(f"{host_b}/api/auth/refresh/", timeout=30,
                               json={"refresh": pair["refresh"]})
        assert replay.status_code == 401 and replay.json()["code"] == "refresh_reused"
