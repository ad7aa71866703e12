"""The example project's sensitive endpoints behind a recent authentication (issue 28 §5):
password change, account deletion, e-mail change and signing the other devices out."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from .helpers import access_token, bearer

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a much better passphrase 42"


def _stale(pair):
    """The session's access token as it would be an hour after the login."""
    return access_token(pair, auth_time=int(time.time()) - 3600)


def _post(path, token, body=None):
    return Client().post(path, body or {}, content_type="application/json", **bearer(token))


def _step_up(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "insufficient_user_authentication"
    assert response.json()["max_age"] == 300
    return True


def test_password_change_keeps_this_device_and_signs_out_the_others(user, login, password):
    mine, other = login(), login()

    stale = _post("/api/password/", _stale(mine),
                  {"old_password": password, "new_password": NEW_PASSWORD})
    wrong_old = _post("/api/password/", mine["access"],
                      {"old_password": "nope", "new_password": NEW_PASSWORD})
    weak = _post("/api/password/", mine["access"],
                 {"old_password": password, "new_password": "123"})
    changed = _post("/api/password/", mine["access"],
                    {"old_password": password, "new_password": NEW_PASSWORD})

    assert _step_up(stale)
    assert wrong_old.status_code == 400 and list(wrong_old.json()["errors"]) == ["old_password"]
    assert weak.status_code == 400 and list(weak.json()["errors"]) == ["new_password"]
    assert changed.status_code == 200 and changed.json() == {"changed": True}
    client = Client()
    assert client.get("/api/me/", **bearer(mine["access"])).status_code == 200
    refused = client.get("/api/me/", **bearer(other["access"]))
    assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"
    assert client.post("/api/auth/refresh/", {"refresh": mine["refresh"]},
                       content_type="application/json").status_code == 200
    assert client.post("/api/auth/login/", {"username": "alice", "password": NEW_PASSWORD},
                       content_type="application/json").status_code == 200


def test_a_password_change_elsewhere_still_signs_every_device_out(user, login):
    mine = login()
    user.set_password(NEW_PASSWORD)
    user.save()
    assert Client().get("/api/me/", **bearer(mine["access"])).status_code == 401


def test_account_deletion(user, login, password):
    pair = login()

    stale = Client().delete("/api/account/", **bearer(_stale(pair)))
    assert _step_up(stale)
    assert get_user_model().objects.filter(pk=user.pk).exists()

    deleted = Client().delete("/api/account/", **bearer(pair["access"]))

    assert deleted.status_code == 204
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert Client().get("/api/me/", **bearer(pair["access"])).status_code == 401


def test_email_change_after_a_reauthentication(user, login, password):
    pair = login()

    stale = _post("/api/email/", _stale(pair), {"email": "new@example.com"})
    renewed = _post("/api/auth/reauthenticate/", _stale(pair), {"password": password}).json()
    bad = _post("/api/email/", renewed["access"], {"email": "not an address"})
    changed = _post("/api/email/", renewed["access"], {"email": "new@example.com"})

    assert _step_up(stale)
    assert bad.status_code == 400
    assert changed.status_code == 200 and changed.json() == {"email": "new@example.com"}
    user.refresh_from_db()
    assert user.email == "new@example.com"
    assert renewed["session_id"] == pair["session_id"]


@pytest.mark.parametrize("prefix", ["/api/auth/", "/api/ninja/auth/"])
def test_signing_the_other_devices_out_asks_for_a_recent_authentication(prefix, user, login):
    mine, other = login(), login()

    stale = _post(f"{prefix}logout-others/", _stale(mine))
    assert _step_up(stale)
    assert Client().get("/api/me/", **bearer(other["access"])).status_code == 200

    done = _post(f"{prefix}logout-others/", mine["access"])

    assert done.status_code == 200 and done.json() == {"revoked": 1}
    assert Client().get("/api/me/", **bearer(other["access"])).status_code == 401
