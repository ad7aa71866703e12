"""Sessions follow their user; old rows are purged; every state change sends its signal."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_doubletoken import services, signals
from django_doubletoken.models import DeviceSession

from .helpers import access_token, bearer

pytestmark = pytest.mark.django_db


def _code(api, pair):
    response = api.get("/api/me/", **bearer(pair["access"]))
    return response.status_code, response.json().get("code")


@pytest.mark.parametrize("change", ["set_password", "set_unusable_password"])
def test_password_change_logs_out_everywhere(api, user, other_user, login, change):
    mine, theirs = [login(), login()], login("bob")
    getattr(user, change)(*(["new password"] if change == "set_password" else []))
    user.save()
    assert all(_code(api, pair) == (401, "session_revoked") for pair in mine)
    assert _code(api, theirs)[0] == 200
    assert set(DeviceSession.objects.filter(user=user).values_list("revoke_reason", flat=True)) \
        == {"password_changed"}


def test_password_change_revocation_can_be_turned_off(api, user, login, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "REVOKE_ON_PASSWORD_CHANGE": False}
    pair = login()
    user.set_password("new password")
    user.save()
    assert _code(api, pair)[0] == 200


def test_unrelated_saves_revoke_nothing(api, user, login, django_user_model):
    pair = login()
    user.first_name = "Alice"
    user.save()
    django_user_model.objects.get(pk=user.pk).save()
    django_user_model.objects.only("id").get(pk=user.pk).save(update_fields=["first_name"])
    assert _code(api, pair)[0] == 200


def test_deactivated_user_is_refused_on_the_next_request(api, user, login):
    pair = login()
    user.is_active = False
    user.save()
    assert _code(api, pair) == (401, "session_revoked")
    response = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert response.json()["code"] == "session_revoked"
    assert DeviceSession.objects.get(pk=pair["session_id"]).revoke_reason == "user_deactivated"


def test_deleted_user_is_refused_even_with_the_state_cached(api, user, login):
    pair = login()
    assert _code(api, pair)[0] == 200  # state now cached as active
    user.delete()
    assert not DeviceSession.objects.exists()
    assert _code(api, pair)[0] == 401


def _age(pair, **fields):
    DeviceSession.objects.filter(pk=pair["session_id"]).update(**fields)


def test_purge_deletes_old_rows_in_batches(user, login):
    now = timezone.now()
    live = login()
    recently_expired = login()
    _age(recently_expired, refresh_expires_at=now - timedelta(days=1))
    old_expired = [login() for _ in range(5)]
    for pair in old_expired:
        _age(pair, refresh_expires_at=now - timedelta(days=8))
    recently_revoked = login()
    _age(recently_revoked, revoked_at=now - timedelta(days=29),
         refresh_expires_at=now - timedelta(days=20))
    old_revoked = login()
    _age(old_revoked, revoked_at=now - timedelta(days=31))

    out = StringIO()
    call_command("purge_device_sessions", "--dry-run", stdout=out)
    assert "Would delete 6 device session(s)" in out.getvalue()
    assert DeviceSession.objects.count() == 9

    out = StringIO()
    call_command("purge_device_sessions", "--batch-size", "4", stdout=out)
    assert "Deleted 4 device session(s) (4 so far)." in out.getvalue()
    assert "Deleted 6 device session(s) in all." in out.getvalue()
    left = set(DeviceSession.objects.values_list("pk", flat=True))
    assert {str(pk) for pk in left} == {live["session_id"], recently_expired["session_id"],
                                       recently_revoked["session_id"]}


def test_expired_means_the_same_for_queries_and_rows(user, login):
    now = timezone.now()
    pairs = {name: login() for name in ("live", "refresh_ended", "absolute_ended", "revoked")}
    _age(pairs["refresh_ended"], refresh_expires_at=now)
    _age(pairs["absolute_ended"], absolute_expires_at=now - timedelta(seconds=1))
    _age(pairs["revoked"], revoked_at=now, refresh_expires_at=now)
    expired = {str(pk) for pk in DeviceSession.objects.expired(now).values_list("pk", flat=True)}
    assert expired == {pairs["refresh_ended"]["session_id"], pairs["absolute_ended"]["session_id"]}
    for session in DeviceSession.objects.all():
        assert session.is_expired(now) is (str(session.pk) in expired)
        assert session.is_active(now) is (session.pk in {
            s.pk for s in DeviceSession.objects.active(now)})


@pytest.mark.parametrize("args", [["--batch-size", "0"], ["--revoked-days", "-1"]])
def test_purge_refuses_bad_options(args):
    with pytest.raises(CommandError):
        call_command("purge_device_sessions", *args)


@pytest.fixture
def received():
    log = []
    handlers = {}
    for name in ("session_created", "session_refreshed", "token_slid", "session_revoked",
                 "refresh_reused"):
        def handler(sender, name=name, **kwargs):
            log.append((name, kwargs))
        handlers[name] = handler
        getattr(signals, name).connect(handler)
    yield log
    for name, handler in handlers.items():
        getattr(signals, name).disconnect(handler)


def test_signals_carry_the_documented_arguments(api, user, login, received):
    pair = login(device="phone")
    refreshed = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")
    api.get("/api/me/", **bearer(access_token(refreshed.json(), remaining=60)))
    DeviceSession.objects.filter(pk=pair["session_id"]).update(
        rotated_at=timezone.now() - timedelta(minutes=1))
    api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")

    names = [name for name, _ in received]
    assert names == ["session_created", "session_refreshed", "token_slid", "session_revoked",
                     "refresh_reused"]
    kwargs = dict(received)
    assert kwargs["session_created"]["session"].device == "phone"
    assert kwargs["session_created"]["request"] is not None
    assert kwargs["session_refreshed"]["session"].refresh_generation == 1
    assert set(kwargs["token_slid"]) >= {"session_id", "user_id", "old_jti", "new_jti",
                                         "expires_at"}
    assert kwargs["session_revoked"]["reason"] == "refresh_reused"
    assert str(kwargs["refresh_reused"]["session"].pk) == pair["session_id"]


def test_revoking_sends_one_signal_per_session(user, login, received):
    for _ in range(3):
        login()
    received.clear()
    services.revoke_user_sessions(user, "admin_kick")
    services.revoke_user_sessions(user, "admin_kick")  # nothing left: no signal
    assert [name for name, _ in received] == ["session_revoked"] * 3
