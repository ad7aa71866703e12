"""Re-authentication under concurrency, on PostgreSQL (real row locks) against gunicorn."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from django_doubletoken.models import DeviceSession

from .servers import app_server

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _login(base, password):
    response = requests.post(f"{base}/api/auth/login/", timeout=30,
                             json={"username": "alice", "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_reauthentications_racing_logout_others_leave_no_live_pair(user, password):
    """Device B re-authenticates while device A signs every other device out: whichever
    wins each row lock, B ends revoked and no pair it was handed works; A goes on."""
    with app_server("gunicorn", threads=8, doubletoken={"LOGIN_THROTTLE_RATE": None}) as base:
        mine, victim = _login(base, password), _login(base, password)

        def reauthenticate(_):
            response = requests.post(f"{base}/api/auth/reauthenticate/", timeout=60,
                                     json={"password": password},
                                     headers=_bearer(victim["access"]))
            return response.status_code, response.json()

        def logout_others():
            return requests.post(f"{base}/api/auth/logout-others/", timeout=60,
                                 headers=_bearer(mine["access"]))

        with ThreadPoolExecutor(max_workers=9) as pool:
            reauths = [pool.submit(reauthenticate, i) for i in range(8)]
            signed_out = pool.submit(logout_others)
            results = [future.result() for future in reauths]
        assert signed_out.result().status_code == 200
        assert {status for status, _ in results} <= {200, 401}
        assert all(body["code"] == "session_revoked" for status, body in results
                   if status == 401)
        for status, body in results:
            if status == 200:
                assert body["session_id"] == victim["session_id"]
                refused = requests.get(f"{base}/api/me/", headers=_bearer(body["access"]),
                                       timeout=30)
                assert refused.status_code == 401
                renewed = requests.post(f"{base}/api/auth/refresh/", timeout=30,
                                        json={"refresh": body["refresh"]})
                assert renewed.status_code == 401
        assert DeviceSession.objects.get(pk=victim["session_id"]).revoked_at is not None
        assert requests.get(f"{base}/api/me/", headers=_bearer(mine["access"]),
                            timeout=30).status_code == 200
