"""With the cache unreachable, state-changing calls answer 503 and change nothing."""

import pytest

from django_doubletoken.models import DeviceSession

from .helpers import bearer

pytestmark = pytest.mark.django_db

DEAD = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }
}


def _unavailable(response):
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "cache_unavailable"


def test_login_creates_nothing(api, user, password, settings):
    settings.CACHES = DEAD
    _unavailable(api.post("/api/auth/login/", {"username": "alice", "password": password},
                          format="json"))
    assert not DeviceSession.objects.exists()


def test_throttled_login_with_the_cache_down(api, user, password, settings):
    settings.CACHES = DEAD
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "5/min"}
    _unavailable(api.post("/api/auth/login/", {"username": "alice", "password": password},
                          format="json"))


def test_login_throttle_on_a_project_view_without_our_exception_handler(api, settings):
    settings.CACHES = DEAD
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "5/min"}
    _unavailable(api.post("/default-handler-throttled/", {}, format="json"))


def test_refresh_logout_and_requests_change_nothing(api, user, login, settings):
    pair = login()
    live_caches = settings.CACHES
    settings.CACHES = DEAD
    _unavailable(api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json"))
    _unavailable(api.post("/api/auth/logout/", **bearer(pair["access"])))
    _unavailable(api.get("/api/me/", **bearer(pair["access"])))
    session = DeviceSession.objects.get(pk=pair["session_id"])
    assert session.refresh_generation == 0 and session.revoked_at is None
    # Back up: everything works without a restart, with the old tokens.
    settings.CACHES = live_caches
    assert api.get("/api/me/", **bearer(pair["access"])).status_code == 200
    response = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200
    assert api.post("/api/auth/logout/", **bearer(response.json()["access"])).status_code == 204
