"""Moving from djangorestframework-simplejwt without logging anyone out (SIMPLEJWT_MIGRATION).

Tokens are minted by the real simplejwt package, with the project settings the how-to shows
(tests/simplejwt_project.py); its blacklist app is installed in the test project.
"""

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

import pytest
import requests
from django.core.checks import run_checks
from django.test import Client, modify_settings
from django.utils import timezone
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from django_doubletoken.client import RequestsAuth, TokenStore
from django_doubletoken.models import DeviceSession, RevokeReason, SimpleJWTExchange

from . import simplejwt_project
from .helpers import bearer
from .servers import app_server

ROOT = Path(__file__).resolve().parent.parent
REFRESH = "/api/auth/refresh/"


def _migrating(settings, until: datetime | str, **doubletoken) -> None:
    settings.SIMPLE_JWT = simplejwt_project.SIMPLE_JWT
    migration = {**simplejwt_project.DOUBLETOKEN["SIMPLEJWT_MIGRATION"], "UNTIL": until}
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **simplejwt_project.DOUBLETOKEN,
                            "SIMPLEJWT_MIGRATION": migration, **doubletoken}


@pytest.fixture
def migrating(settings):
    """The project of the how-to, its migration running until tomorrow."""
    _migrating(settings, timezone.now() + timedelta(days=1))
    return settings


def mint(kind, user, **simple_jwt):
    """A token of simplejwt's ``kind`` (RefreshToken, AccessToken) for ``user``, signed as the
    how-to's project (with ``simple_jwt`` overrides) signs them. simplejwt builds its signing
    backend once per process, so the test gives each token its own."""
    config = {**simplejwt_project.SIMPLE_JWT, **simple_jwt}
    token = kind.for_user(user)
    token._token_backend = TokenBackend(config["ALGORITHM"], config["SIGNING_KEY"], "",
                                        config["AUDIENCE"], config["ISSUER"])
    return token


def _refresh(http, token, path=REFRESH):
    response = http.post(path, {"refresh": str(token)}, content_type="application/json")
    return response.status_code, response.json()


def _code(result):
    return result[0], result[1].get("code")


pytestmark = pytest.mark.django_db


def test_a_simplejwt_refresh_token_is_exchanged_once_for_a_session(migrating, user):
    token = mint(RefreshToken, user)
    http = Client(HTTP_USER_AGENT="OldApp/1.0")
    status, pair = _refresh(http, token)
    assert status == 200, pair
    session = DeviceSession.objects.get(user=user)
    assert str(session.pk) == pair["session_id"]
    assert (session.client, session.device, session.user_agent) == ("web", "", "OldApp/1.0")
    assert SimpleJWTExchange.objects.get(jti=token["jti"]).session == session
    # simplejwt's own endpoints refuse it from now on.
    assert BlacklistedToken.objects.filter(token__jti=token["jti"]).exists()
    # The new pair is a double-token session like any other.
    assert http.get("/api/me/", **bearer(pair["access"])).status_code == 200
    rotated = _refresh(http, pair["refresh"])
    assert rotated[0] == 200 and rotated[1]["session_id"] == pair["session_id"]


def test_an_exchange_is_no_authentication_step_up_guards_ask_for_one(migrating, user,
                                                                      password):
    http = Client()
    status, pair = _refresh(http, mint(RefreshToken, user))
    assert status == 200, pair

    guarded = http.get("/stepup/drf/", **bearer(pair["access"]))
    renewed = http.post("/api/auth/reauthenticate/", {"password": password},
                        content_type="application/json", **bearer(pair["access"])).json()

    assert guarded.status_code == 401
    assert guarded.json()["code"] == "insufficient_user_authentication"
    assert http.get("/stepup/drf/", **bearer(renewed["access"])).status_code == 200


def test_presented_again_within_the_grace_window_it_gets_the_same_pair(migrating, user):
    token = str(mint(RefreshToken, user))
    http = Client()
    first, again = _refresh(http, token), _refresh(http, token)
    assert first == again and first[0] == 200
    assert DeviceSession.objects.filter(user=user).count() == 1


def test_presented_again_later_it_is_reuse_and_ends_the_session(migrating, user):
    token = str(mint(RefreshToken, user))
    http = Client()
    status, pair = _refresh(http, token)
    assert status == 200
    migrating.DOUBLETOKEN = {**migrating.DOUBLETOKEN, "GRACE_PERIOD": timedelta(0)}
    assert _code(_refresh(http, token)) == (401, "refresh_reused")
    session = DeviceSession.objects.get(pk=pair["session_id"])
    assert session.revoke_reason == RevokeReason.REFRESH_REUSED
    assert _code(_refresh(http, token)) == (401, "refresh_reused")
    assert DeviceSession.objects.filter(user=user).count() == 1


def test_once_the_session_rotated_the_simplejwt_token_is_spent(migrating, user):
    token = str(mint(RefreshToken, user))
    http = Client()
    _, pair = _refresh(http, token)
    assert _refresh(http, pair["refresh"])[0] == 200
    assert _code(_refresh(http, token)) == (401, "refresh_reused")


def test_a_blacklisted_token_is_refused(migrating, user):
    token = mint(RefreshToken, user)
    token.blacklist()  # e.g. simplejwt's logout (token/blacklist/) before the switch
    assert _code(_refresh(Client(), token)) == (401, "session_revoked")
    assert not DeviceSession.objects.exists() and not SimpleJWTExchange.objects.exists()


def test_an_expired_token_is_refused(migrating, user):
    token = mint(RefreshToken, user)
    token.set_exp(lifetime=-timedelta(minutes=1))
    assert _code(_refresh(Client(), token)) == (401, "session_expired")
    assert not DeviceSession.objects.exists()


def test_a_token_signed_with_another_key_is_refused(migrating, user):
    forged = str(mint(RefreshToken, user, SIGNING_KEY="x" * 50))
    assert _code(_refresh(Client(), forged)) == (401, "token_invalid")
    assert not DeviceSession.objects.exists()


def test_a_simplejwt_access_token_is_no_refresh_token(migrating, user):
    access = mint(AccessToken, user)
    assert _code(_refresh(Client(), access)) == (401, "token_invalid")
    assert not DeviceSession.objects.exists()


def test_a_simplejwt_access_token_makes_the_client_refresh_not_log_out(migrating, user):
    # token_expired: both clients refresh (with the simplejwt refresh token they hold).
    response = Client().get("/api/me/", **bearer(str(mint(AccessToken, user))))
    assert (response.status_code, response.json()["code"]) == (401, "token_expired")


def test_after_the_end_date_every_simplejwt_token_is_refused_with_its_code(settings, user):
    _migrating(settings, timezone.now() + timedelta(days=1))
    valid = mint(RefreshToken, user)
    expired = mint(RefreshToken, user)
    expired.set_exp(lifetime=-timedelta(minutes=1))
    access = mint(AccessToken, user)
    _migrating(settings, timezone.now() - timedelta(seconds=1))
    http = Client()
    for token in (valid, expired, access):
        status, body = _refresh(http, token)
        assert (status, body["code"]) == (401, "simplejwt_migration_ended")
        assert "log in again" in body["detail"]
    assert not DeviceSession.objects.exists()
    me = http.get("/api/me/", **bearer(str(access)))
    assert (me.status_code, me.json()["code"]) == (401, "token_invalid")


def test_without_the_setting_simplejwt_tokens_are_just_invalid(settings, user):
    settings.SIMPLE_JWT = simplejwt_project.SIMPLE_JWT
    assert _code(_refresh(Client(), mint(RefreshToken, user))) == (401, "token_invalid")
    assert not DeviceSession.objects.exists()


def test_a_deactivated_user_gets_no_session(migrating, user):
    token = mint(RefreshToken, user)
    user.is_active = False
    user.save()
    assert _code(_refresh(Client(), token)) == (401, "session_revoked")
    assert not DeviceSession.objects.exists()


def test_with_check_revoke_token_a_password_changed_since_refuses_it(migrating, user):
    migrating.SIMPLE_JWT = {**simplejwt_project.SIMPLE_JWT, "CHECK_REVOKE_TOKEN": True}
    before, after = mint(RefreshToken, user), mint(RefreshToken, user)
    for token in (before, after):  # what for_user() adds with CHECK_REVOKE_TOKEN (its
        # module keeps the settings it was imported with, so a test sets the claim itself)
        token["hash_password"] = get_md5_hash_password(user.password)
    assert _refresh(Client(), before)[0] == 200
    user.set_password("a new one entirely")
    user.save()
    assert _code(_refresh(Client(), after)) == (401, "session_revoked")


def test_the_ninja_face_exchanges_too(migrating, user):
    token = mint(RefreshToken, user)
    status, pair = _refresh(Client(), token, "/api/ninja/auth/refresh/")
    assert status == 200 and DeviceSession.objects.get(user=user).pk.hex in pair[
        "session_id"].replace("-", "")


def test_without_simplejwts_blacklist_app_the_exchange_is_still_once(migrating, user,
                                                                     settings):
    with modify_settings(INSTALLED_APPS={"remove": "rest_framework_simplejwt.token_blacklist"}):
        token = str(mint(RefreshToken, user))
        http = Client()
        assert _refresh(http, token)[0] == 200
        settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "GRACE_PERIOD": timedelta(0)}
        assert _code(_refresh(http, token)) == (401, "refresh_reused")
    assert not BlacklistedToken.objects.exists()


# --- the Python client needs nothing but the refresh URL ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_python_client_carries_a_simplejwt_user_over(migrating, user, live_server):
    old_access, old_refresh = (str(mint(AccessToken, user)),
                               str(mint(RefreshToken, user)))
    store = TokenStore(old_access, old_refresh, base_url=live_server.url)
    with requests.Session() as http:
        http.auth = RequestsAuth(store)
        me = http.get(f"{live_server.url}/api/me/", timeout=10)
    assert me.status_code == 200
    session = DeviceSession.objects.get(user=user)
    assert store.access != old_access and store.refresh != old_refresh
    assert SimpleJWTExchange.objects.get().session == session


# --- 20 at once, on PostgreSQL, through a real server -------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_exchanges_open_one_session(user):
    _twenty_at_once(user)


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_exchanges_open_one_session_on_sqlite_too(user):
    # SQLite serialises the writers differently: this run caught a loser that read the
    # blacklist the winner had just written (session_revoked) before its own insert failed.
    _twenty_at_once(user)


def _twenty_at_once(user):
    until = (timezone.now() + timedelta(days=1)).isoformat()
    token = str(mint(RefreshToken, user))
    server_settings = {"SIMPLEJWT_MIGRATION": {"UNTIL": until},
                       "GRACE_PERIOD": timedelta(seconds=30)}
    with app_server("gunicorn", threads=10, doubletoken=server_settings,
                    environ={"DOUBLETOKEN_TEST_SIMPLE_JWT": "1"}) as base, \
            requests.Session() as http, ThreadPoolExecutor(max_workers=20) as pool:
        http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=20))

        def exchange(_):
            response = http.post(f"{base}{REFRESH}", json={"refresh": token}, timeout=60)
            return response.status_code, response.json()

        results = list(pool.map(exchange, range(20)))
    assert [status for status, _ in results] == [200] * 20, [r for r in results if r[0] != 200]
    assert len({(body["access"], body["refresh"]) for _, body in results}) == 1
    assert DeviceSession.objects.filter(user=user).count() == 1
    assert SimpleJWTExchange.objects.count() == 1
    assert BlacklistedToken.objects.count() == 1


# --- the system checks ----------------------------------------------------------------------


def _ids():
    return {m.id for m in run_checks()}


@pytest.mark.parametrize("migration", [
    {"UNTIL": datetime(2027, 7, 1)},  # naive: in which time zone?
    {"UNTIL": "next summer"},
    {},
    {"UNTIL": "2027-07-01T00:00:00Z", "CLIENT": "tv"},
    {"UNTIL": "2027-07-01T00:00:00Z", "UNTILL": "typo"},
    "2027-07-01",
])
def test_a_bad_migration_setting_is_an_error(settings, migration):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "SIMPLEJWT_MIGRATION": migration}
    assert "django_doubletoken.E040" in _ids()


@pytest.mark.parametrize("simple_jwt", [
    {"SIGNING_KEY": ""},
    {"ALGORITHM": "RS256"},  # and no VERIFYING_KEY
    {"ALGORITHM": "none"},
    {"ALGORITHM": ["HS256"]},  # not a name: an error, not a TypeError out of the check
    {"TOKEN_TYPE_CLAIM": None},
])
def test_simplejwt_settings_that_cannot_verify_its_tokens_are_an_error(migrating, simple_jwt):
    migrating.SIMPLE_JWT = {**simplejwt_project.SIMPLE_JWT, **simple_jwt}
    assert "django_doubletoken.E040" in _ids()


def test_the_how_to_settings_pass_the_checks_and_an_ended_migration_is_a_warning(settings):
    _migrating(settings, datetime.now(dt_timezone.utc) + timedelta(days=1))
    assert not {i for i in _ids() if i.startswith("django_doubletoken.E04")}
    _migrating(settings, "2020-01-01T00:00:00+00:00")
    assert "django_doubletoken.W041" in _ids()


# --- the how-to's code is this file's ---------------------------------------------------


def test_the_how_to_shows_the_tested_settings():
    page = (ROOT / "docs/how-to/simplejwt.md").read_text()
    tested = (Path(__file__).parent / "simplejwt_project.py").read_text()
    blocks = re.findall(r"^( *)```python\n(.*?)^\1```", page, flags=re.S | re.M)
    assert len(blocks) == 2
    for indent, block in blocks:
        code = "".join(line.removeprefix(indent) for line in block.splitlines(keepends=True))
        assert code in tested, code


def test_the_purge_deletes_the_records_of_expired_tokens_only(migrating, user):
    """purge_device_sessions also deletes exchange records whose simplejwt token expired: such
    a token is refused as expired, record or not; a live token's record stays (it is spent)."""
    from io import StringIO

    from django.core.management import call_command

    expired = mint(RefreshToken, user)
    assert _refresh(Client(), expired)[0] == 200
    live = mint(RefreshToken, user)
    status, first = _refresh(Client(), live)
    assert status == 200
    # Expiry (beyond simplejwt's LEEWAY) moved into the past for the first record only.
    SimpleJWTExchange.objects.filter(jti=expired["jti"]).update(
        token_expires_at=timezone.now() - timedelta(minutes=5))
    output = StringIO()
    call_command("purge_device_sessions", "--batch-size", "1", stdout=output)
    assert "Deleted 1 expired simplejwt exchange record(s) in all." in output.getvalue()
    assert list(SimpleJWTExchange.objects.values_list("jti", flat=True)) == [live["jti"]]
    # The live token's record still makes it the same session (no second exchange); the
    # expired one is refused on its expiry, record or not.
    sessions = DeviceSession.objects.count()
    assert _refresh(Client(), live)[1]["session_id"] == first["session_id"]
    assert DeviceSession.objects.count() == sessions
    expired.set_exp(lifetime=-timedelta(minutes=5))
    assert _code(_refresh(Client(), expired)) == (401, "session_expired")
