"""Cookie transport: the refresh token in an HttpOnly cookie, CSRF-checked when read."""

import pytest
from rest_framework.test import APIClient

from django_doubletoken.models import DeviceSession

from .helpers import bearer

pytestmark = pytest.mark.django_db

COOKIE = "dt_refresh"


@pytest.fixture
def cookie_mode(settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "REFRESH_COOKIE_NAME": COOKIE}


@pytest.fixture
def browser_client():
    return APIClient(enforce_csrf_checks=True)


def _login(http, password, **extra):
    response = http.post("/api/auth/login/",
                           {"username": "alice", "password": password, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response


def test_login_puts_the_refresh_token_in_an_httponly_cookie(cookie_mode, browser_client, user,
                                                           password):
    response = _login(browser_client, password)
    body = response.json()
    assert "refresh" not in body and body["access"]
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/api/auth/refresh/"  # sent to the refresh endpoint only
    assert 86000 < int(cookie["max-age"]) <= 86400
    assert response.cookies["csrftoken"].value  # for the X-CSRFToken header


def test_refresh_from_the_cookie_needs_the_csrf_header(cookie_mode, browser_client, user,
                                                       password):
    login = _login(browser_client, password)
    refused = browser_client.post("/api/auth/refresh/", {}, format="json")
    assert refused.status_code == 403
    assert DeviceSession.objects.get(pk=login.json()["session_id"]).refresh_generation == 0
    csrf = browser_client.cookies["csrftoken"].value
    response = browser_client.post("/api/auth/refresh/", {}, format="json",
                                   HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 200, response.content
    assert "refresh" not in response.json()
    assert response.cookies[COOKIE].value != login.cookies[COOKIE].value
    assert DeviceSession.objects.get(pk=login.json()["session_id"]).refresh_generation == 1
    # The rotated cookie works for the next refresh, too.
    again = browser_client.post("/api/auth/refresh/", {}, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert again.status_code == 200
    assert DeviceSession.objects.get(pk=login.json()["session_id"]).refresh_generation == 2


def test_no_cookie_and_no_body_is_400(cookie_mode, browser_client):
    assert browser_client.post("/api/auth/refresh/", {}, format="json").status_code == 400


def test_mobile_keeps_the_body_transport(cookie_mode, browser_client, user, password):
    response = _login(browser_client, password, client="mobile")
    assert response.json()["refresh"] and COOKIE not in response.cookies
    mobile = APIClient()  # a native app: no cookies, no CSRF
    refreshed = mobile.post("/api/auth/refresh/", {"refresh": response.json()["refresh"]},
                            format="json")
    assert refreshed.status_code == 200 and refreshed.json()["refresh"]


def test_logout_clears_the_cookie(cookie_mode, browser_client, user, password):
    login = _login(browser_client, password)
    response = browser_client.post("/api/auth/logout/", **bearer(login.json()["access"]))
    assert response.status_code == 204
    assert response.cookies[COOKIE].value == "" and response.cookies[COOKIE]["max-age"] == 0
    assert response.cookies[COOKIE]["path"] == "/api/auth/refresh/"


def test_cookie_mode_off_by_default(api, user, password):
    response = _login(api, password)
    assert response.json()["refresh"] and COOKIE not in response.cookies
