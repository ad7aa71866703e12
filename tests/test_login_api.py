"""Signing users in from a project's own views: django_doubletoken.login / login_response,
and the example project's POST /api/signup/ built on them."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.test import RequestFactory

import django_doubletoken
from django_doubletoken import signals, store
from django_doubletoken.errors import CACHE_UNAVAILABLE, ServiceUnavailable
from django_doubletoken.models import DeviceSession

from .helpers import bearer

pytestmark = pytest.mark.django_db

COOKIE = "dt_refresh"


@pytest.fixture
def sent_signals():
    seen = []

    def created(sender, session, request, **kwargs):
        seen.append(("session_created", str(session.pk), request is not None))

    def logged_in(sender, user, request, **kwargs):
        seen.append(("user_logged_in", user.get_username(), request is not None))

    signals.session_created.connect(created)
    user_logged_in.connect(logged_in)
    yield seen
    signals.session_created.disconnect(created)
    user_logged_in.disconnect(logged_in)


def _shape(response):
    """What must be the same as login/'s: status, headers, body keys, cookie."""
    return (response.status_code, response["Content-Type"], response["Cache-Control"],
            response["Pragma"], list(json.loads(response.content)),
            sorted(response.cookies))


def _login(api, password, **extra):
    return api.post("/api/auth/login/", {"username": "alice", "password": password, **extra},
                    format="json")


@pytest.mark.parametrize("cookie_mode", [False, True])
def test_signup_answers_exactly_as_login(api, user, password, settings, cookie_mode,
                                         sent_signals):
    if cookie_mode:
        settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "REFRESH_COOKIE_NAME": COOKIE}
    reference = _login(api, password)
    signup = api.post("/api/signup/", {"username": "carol", "password": "s3cret pass",
                                       "device": "new phone"}, format="json")
    assert signup.status_code == 200, signup.content
    assert _shape(signup) == _shape(reference)
    assert ("refresh" in signup.json()) is not cookie_mode
    if cookie_mode:
        assert signup.cookies[COOKIE]["httponly"] and signup.cookies["csrftoken"].value

    carol = get_user_model().objects.get(username="carol")
    assert carol.check_password("s3cret pass") and carol.last_login is not None
    session = DeviceSession.objects.get(pk=signup.json()["session_id"])
    assert (session.user_id, session.device) == (carol.pk, "new phone")
    assert sent_signals[-2:] == [("user_logged_in", "carol", True),
                                 ("session_created", str(session.pk), True)]
    me = api.get("/api/me/", **bearer(signup.json()["access"]))
    assert me.json() == {"id": carol.pk, "username": "carol"}


def test_signup_validation_errors_are_400_with_field_messages(api, user, settings):
    """A project view's ValidationError answers as the app's endpoints do (the app's
    EXCEPTION_HANDLER): invalid_input, each field's messages under errors."""
    taken = api.post("/api/signup/", {"username": "alice", "password": "x" * 12}, format="json")
    assert taken.status_code == 400 and sorted(taken.json()) == ["code", "detail", "errors"]
    assert taken.json()["code"] == "invalid_input" and list(taken.json()["errors"]) == ["username"]
    missing = api.post("/api/signup/", {"username": "dave"}, format="json")
    assert missing.status_code == 400 and list(missing.json()["errors"]) == ["password"]
    bad_name = api.post("/api/signup/", {"username": "no spaces!", "password": "x" * 12},
                        format="json")
    assert bad_name.status_code == 400 and "username" in bad_name.json()["errors"]
    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"}]
    short = api.post("/api/signup/", {"username": "dave", "password": "short"}, format="json")
    assert short.status_code == 400 and "too short" in short.json()["errors"]["password"][0]
    assert not get_user_model().objects.filter(username="dave").exists()
    assert not DeviceSession.objects.exists()


def test_signup_with_the_cache_down_leaves_no_account(api, monkeypatch):
    def down(*args, **kwargs):
        raise ServiceUnavailable(CACHE_UNAVAILABLE)

    monkeypatch.setattr(store, "open_session", down)
    response = api.post("/api/signup/", {"username": "erin", "password": "x" * 12},
                        format="json")
    assert response.status_code == 503 and response.json()["code"] == "cache_unavailable"
    assert not get_user_model().objects.filter(username="erin").exists()


def test_login_response_from_a_plain_django_view(client, api, user, password, sent_signals):
    reference = _login(api, password)
    response = client.post("/plain-login/", {"username": "alice"})
    assert _shape(response) == _shape(reference)
    body = json.loads(response.content)
    assert DeviceSession.objects.get(pk=body["session_id"]).device == "magic link"
    assert api.get("/api/me/", **bearer(body["access"])).status_code == 200
    assert [name for name, *_ in sent_signals[-2:]] == ["user_logged_in", "session_created"]
    mobile = client.post("/plain-login/", {"username": "alice", "client": "mobile"})
    assert DeviceSession.objects.get(pk=mobile.json()["session_id"]).client == "mobile"


def test_login_returns_the_pair(user):
    request = RequestFactory().post("/", HTTP_USER_AGENT="cli/1.0", REMOTE_ADDR="10.0.0.5")
    pair = django_doubletoken.login(request, user, device="cli", client="mobile")
    session = DeviceSession.objects.get(pk=pair.session_id)
    assert (session.device, session.client, session.ip, session.user_agent) == (
        "cli", "mobile", "10.0.0.5", "cli/1.0")
    assert pair.access and pair.refresh and pair.refresh_expires_at > pair.access_expires_at
    user.refresh_from_db()
    assert user.last_login is not None


def test_login_refuses_what_cannot_have_a_session(user):
    request = RequestFactory().post("/")
    with pytest.raises(ValueError, match="Unknown client profile 'tv'.*mobile, web"):
        django_doubletoken.login(request, user, client="tv")
    with pytest.raises(ValueError, match="no primary key"):
        django_doubletoken.login(request, get_user_model()(username="ghost"))
    user.is_active = False
    user.save()
    with pytest.raises(ValueError, match="inactive"):
        django_doubletoken.login(request, user)
    assert not DeviceSession.objects.exists()


def test_the_package_exports_only_what_it_documents():
    assert django_doubletoken.__all__ == ["login", "login_response", "reauthenticate",
                                          "reauthenticate_response"]
    with pytest.raises(AttributeError):
        django_doubletoken.nothing_here  # noqa: B018
