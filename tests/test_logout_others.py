"""``logout-others/``: "sign out of all other devices" on DRF and Ninja. Every other session
of the user is refused on its next request (and its sockets closed, through the
session_revoked relay); the caller's own session goes on without a new login."""

import json

import pytest
import requests
from django.test import Client
from websockets.sync.client import connect

from django_doubletoken import signals
from django_doubletoken.channels import CLOSE_CODES
from django_doubletoken.models import DeviceSession

from .helpers import bearer
from .servers import app_server
from .test_websockets import _closed

PREFIXES = ["/api/auth/", "/api/ninja/auth/"]


@pytest.fixture
def revocations():
    seen = []

    def receiver(sender, session, reason, **kwargs):
        seen.append((str(session.pk), reason))

    signals.session_revoked.connect(receiver, dispatch_uid="test_logout_others")
    yield seen
    signals.session_revoked.disconnect(dispatch_uid="test_logout_others")


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_other_session_is_refused_the_callers_goes_on(prefix, user, other_user, login,
                                                           revocations):
    mine, second, third = login(), login(), login()
    theirs = login("bob")
    client = Client()

    response = client.post(f"{prefix}logout-others/", **bearer(mine["access"]))

    assert response.status_code == 200, response.content
    assert response.json() == {"revoked": 2}
    assert response["Cache-Control"] == "no-store"
    for other in (second, third):
        refused = client.get("/api/me/", **bearer(other["access"]))
        assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"
        again = client.post(f"{prefix}refresh/", {"refresh": other["refresh"]},
                            content_type="application/json")
        assert again.status_code == 401 and again.json()["code"] == "session_revoked"
    assert client.get("/api/me/", **bearer(mine["access"])).status_code == 200
    assert client.get("/api/me/", **bearer(theirs["access"])).status_code == 200
    renewed = client.post(f"{prefix}refresh/", {"refresh": mine["refresh"]},
                          content_type="application/json")
    assert renewed.status_code == 200 and renewed.json()["session_id"] == mine["session_id"]
    assert sorted(revocations) == sorted(
        [(second["session_id"], "logout_others"), (third["session_id"], "logout_others")])
    assert DeviceSession.objects.get(pk=second["session_id"]).revoke_reason == "logout_others"
    # Nothing left to sign out: the same answer, nothing revoked.
    assert client.post(f"{prefix}logout-others/", **bearer(mine["access"])).json() == {
        "revoked": 0}


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", PREFIXES)
def test_logout_others_needs_a_live_access_token(prefix, user, login):
    mine, other = login(), login()
    client = Client()
    assert client.post(f"{prefix}logout/", **bearer(mine["access"])).status_code == 204

    refused = client.post(f"{prefix}logout-others/", **bearer(mine["access"]))
    anonymous = client.post(f"{prefix}logout-others/")

    assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    assert client.get("/api/me/", **bearer(other["access"])).status_code == 200


# --- live: the other devices' sockets close ----------------------------------------------

SETTINGS = {"GRACE_PERIOD": 1, "LEEWAY": 0}
PROMISE = 1.0  # as tests/test_websockets.py: sockets close within a second of the answer


def _tick(ws):
    while json.loads(ws.recv(timeout=5))["type"] != "tick":
        pass


@pytest.mark.django_db(transaction=True)
def test_the_other_devices_sockets_close_the_callers_stays_open(django_db_blocker, user,
                                                                password):
    with django_db_blocker.unblock(), \
            app_server("uvicorn", workers=1, doubletoken=SETTINGS,
                       environ={"TICK_SECONDS": "0.5"}) as host:
        def login():
            response = requests.post(f"{host}/api/auth/login/", timeout=30,
                                     json={"username": "alice", "password": password})
            assert response.status_code == 200, response.text
            return response.json()

        def socket(pair):
            return connect(host.replace("http://", "ws://") + "/ws/notifications/",
                           subprotocols=["doubletoken", pair["access"]], open_timeout=10)

        mine, other = login(), login()
        with socket(mine) as ws_mine, socket(other) as ws_other:
            _tick(ws_mine)
            _tick(ws_other)
            answer = requests.post(f"{host}/api/auth/logout-others/", timeout=30,
                                   headers={"Authorization": f"Bearer {mine['access']}"})
            assert answer.status_code == 200 and answer.json() == {"revoked": 1}
            code, reason, waited = _closed(ws_other)
            assert (code, reason) == (CLOSE_CODES["session_revoked"], "session_revoked")
            assert waited <= PROMISE
            _tick(ws_mine)
