"""What one login costs, counted: SQL statements (the user's SELECT, then the session row and
``last_login`` in one statement on PostgreSQL, one transaction elsewhere) and Redis round
trips (the session state and the last-used marker together); and that ``last_login`` is
written with the effect of Django's ``user_logged_in`` receiver, or not at all when a project
has disconnected it."""

import time

import pytest
import redis
from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login as django_update_last_login
from django.contrib.auth.signals import user_logged_in
from django.db import connection
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext

from django_doubletoken import services, store
from django_doubletoken.models import DeviceSession
from django_doubletoken.services import last_login

from .helpers import bearer
from .servers import commands_received

pytestmark = pytest.mark.django_db

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")


def _statements(captured):
    kinds = [q["sql"].split(None, 1)[0].upper() for q in captured.captured_queries]
    return [kind for kind in kinds if kind not in TRANSACTION_CONTROL]


def _login(api, password):
    response = api.post("/api/auth/login/", {"username": "alice", "password": password},
                        format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _second_login_counted(api, password, round_trips, own_redis):
    """Log in twice (the first opens the connections and loads any script) and count the
    second: its answer, its SQL, its round trips (socket writes), the Redis commands the
    server received, and a client of that server."""
    _login(api, password)
    server = redis.Redis.from_url(own_redis.url)
    server.config_resetstat()
    round_trips.clear()
    with CaptureQueriesContext(connection) as captured:
        pair = _login(api, password)
    trips = len(round_trips)  # before INFO below adds its own
    commands = {name: calls for name, calls in commands_received(server).items()
                if name not in ("config|resetstat", "info")}
    return pair, captured, trips, commands, server


def test_a_login_is_one_redis_round_trip_and_one_write_statement(
    api, user, password, settings, round_trips, own_redis
):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": None}
    pair, captured, trips, commands, _ = _second_login_counted(api, password, round_trips,
                                                               own_redis)
    assert trips == 1
    assert commands == {"set": 2}
    statements = _statements(captured)
    if connection.vendor == "postgresql":
        # The user's SELECT (authenticate), then INSERT + UPDATE last_login as one.
        assert statements == ["SELECT", "WITH"], captured.captured_queries
    else:
        assert statements == ["SELECT", "INSERT", "UPDATE"], captured.captured_queries
    # The first request finds the session and its marker: one read, no database.
    round_trips.clear()
    with CaptureQueriesContext(connection) as first_request:
        assert api.get("/api/me/", **bearer(pair["access"])).status_code == 200
    assert len(round_trips) == 1
    assert [q for q in _statements(first_request) if q != "SELECT"] == []


@pytest.mark.postgres
def test_on_postgresql_too(api, user, password, settings, round_trips, own_redis):
    test_a_login_is_one_redis_round_trip_and_one_write_statement(
        api, user, password, settings, round_trips, own_redis)


@pytest.fixture
def user_saves():
    seen = []

    def record(signal):
        def receiver(sender, instance, update_fields=None, **kwargs):
            seen.append((signal, sender, instance.last_login, update_fields, kwargs.get("created")))
        return receiver

    receivers = {"pre_save": record("pre_save"), "post_save": record("post_save")}
    pre_save.connect(receivers["pre_save"], sender=get_user_model())
    post_save.connect(receivers["post_save"], sender=get_user_model())
    yield seen
    pre_save.disconnect(receivers["pre_save"], sender=get_user_model())
    post_save.disconnect(receivers["post_save"], sender=get_user_model())


def _django_effect(user):
    """What Django's own receiver does for ``user``: last_login and the save's signals."""
    django_update_last_login(type(user), user)
    return user.last_login


def test_last_login_is_written_as_djangos_receiver_writes_it(user, user_saves):
    assert user.last_login is None
    services.login(user)
    stored = get_user_model().objects.get(pk=user.pk).last_login
    assert stored is not None and stored == user.last_login
    session = DeviceSession.objects.get(user=user)
    assert stored == session.created_at  # the same moment, one statement
    model = get_user_model()
    fields = frozenset({"last_login"})
    assert user_saves == [("pre_save", model, stored, fields, None),
                          ("post_save", model, stored, fields, False)]
    # Django's receiver, called directly, leaves exactly that trace.
    user_saves.clear()
    again = _django_effect(user)
    assert user_saves == [("pre_save", model, again, fields, None),
                          ("post_save", model, again, fields, False)]


def test_other_receivers_of_user_logged_in_still_hear_every_login(user):
    heard = []

    def receiver(sender, user, request, **kwargs):
        heard.append(user.last_login)

    user_logged_in.connect(receiver)
    try:
        services.login(user)
    finally:
        user_logged_in.disconnect(receiver)
    assert heard == [get_user_model().objects.get(pk=user.pk).last_login] and heard[0]


def test_a_project_that_disconnects_the_receiver_gets_no_last_login(user):
    assert user_logged_in.disconnect(dispatch_uid="update_last_login")
    try:
        services.login(user)
    finally:
        user_logged_in.connect(last_login.update_last_login, dispatch_uid="update_last_login")
    assert get_user_model().objects.get(pk=user.pk).last_login is None
    assert user.last_login is None


def test_djangos_own_login_still_updates_last_login(client, user, password):
    assert client.login(username="alice", password=password)
    assert get_user_model().objects.get(pk=user.pk).last_login is not None


def test_a_user_model_with_its_own_save_is_saved_by_the_receiver(user, monkeypatch):
    saved = []
    model = type(user)
    original = model.save

    def save(self, *args, **kwargs):
        saved.append(kwargs.get("update_fields"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(model, "save", save)
    services.login(user)
    assert saved == [["last_login"]]
    assert get_user_model().objects.get(pk=user.pk).last_login == user.last_login


def test_the_cache_down_writes_no_row(user, monkeypatch):
    from django_doubletoken.errors import CACHE_UNAVAILABLE, ServiceUnavailable

    def down(*args, **kwargs):
        raise ServiceUnavailable(CACHE_UNAVAILABLE)

    monkeypatch.setattr(store, "open_session", down)
    with pytest.raises(ServiceUnavailable):
        services.login(user)
    assert not DeviceSession.objects.exists()
    assert get_user_model().objects.get(pk=user.pk).last_login is None


@pytest.fixture
def fresh_throttle_memory():
    """No client remembered as refused by an earlier test of this process."""
    from django_doubletoken.endpoints import throttle

    throttle._refused_until.clear()
    yield throttle
    throttle._refused_until.clear()


def test_with_the_throttle_on_a_login_is_still_one_round_trip(
    api, user, password, settings, round_trips, own_redis, fresh_throttle_memory
):
    """The throttle's check and count and the session's state go in one script: one round
    trip, where DRF's throttle alone costs a GET and a SET before the credentials."""
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "100/min"}
    pair, captured, trips, commands, server = _second_login_counted(api, password,
                                                                    round_trips, own_redis)
    assert trips == 1
    assert commands.pop("evalsha") == 1
    # Inside the script: the history read, the count, the session's two keys (no trim: the
    # history is shorter than the rate's limit).
    assert commands == {"lindex": 1, "lpush": 1, "expire": 1, "set": 2}
    assert len(_statements(captured)) == (2 if connection.vendor == "postgresql" else 3)
    history = server.keys("*throttle*")
    assert len(history) == 1 and server.llen(history[0]) == 2  # both logins counted
    assert api.get("/api/me/", **bearer(pair["access"])).status_code == 200


@pytest.mark.postgres
def test_with_the_throttle_on_postgresql_too(api, user, password, settings, round_trips,
                                            own_redis, fresh_throttle_memory):
    test_with_the_throttle_on_a_login_is_still_one_round_trip(
        api, user, password, settings, round_trips, own_redis, fresh_throttle_memory)


def test_a_throttled_login_writes_nothing_and_is_not_counted(
    api, user, password, settings, real_redis, fresh_throttle_memory
):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "2/min"}
    _login(api, password)
    _login(api, password)
    keys_before = set(real_redis.keys("*"))
    response = api.post("/api/auth/login/", {"username": "alice", "password": password},
                        format="json")
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    assert 55 <= int(response["Retry-After"]) <= 60
    assert DeviceSession.objects.count() == 2
    assert set(real_redis.keys("*")) == keys_before  # no session state for a refused login
    (history,) = real_redis.keys("*throttle*")
    assert real_redis.llen(history) == 2  # DRF counts only what it lets through


def test_refused_credentials_are_counted_and_a_throttled_guess_learns_nothing(
    api, user, password, settings, fresh_throttle_memory
):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "2/min"}
    wrong = {"username": "alice", "password": "wrong"}
    assert api.post("/api/auth/login/", wrong, format="json").status_code == 401
    assert api.post("/api/auth/login/", {"username": "alice"}, format="json").status_code == 400
    fresh_throttle_memory._refused_until.clear()  # the cache alone decides below
    # Over the rate: the right password and a wrong one get the same answer.
    right = api.post("/api/auth/login/", {"username": "alice", "password": password},
                     format="json")
    assert right.status_code == 429
    fresh_throttle_memory._refused_until.clear()
    assert api.post("/api/auth/login/", wrong, format="json").status_code == 429
    assert not DeviceSession.objects.exists()


def test_a_client_refused_lately_is_asked_about_before_its_password_is_checked(
    api, user, password, settings, round_trips, real_redis, fresh_throttle_memory
):
    """A throttled client cannot make a worker hash password after password: once refused,
    it is refused before its credentials (no SELECT of the user), on the cache's word."""
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "1/min"}
    _login(api, password)
    body = {"username": "alice", "password": password}
    assert api.post("/api/auth/login/", body, format="json").status_code == 429
    round_trips.clear()
    with CaptureQueriesContext(connection) as captured:
        again = api.post("/api/auth/login/", body, format="json")
    assert again.status_code == 429 and int(again["Retry-After"]) > 0
    assert captured.captured_queries == [] and len(round_trips) == 1
    # The memory only says when to ask: the history gone (an operator's reset), the login
    # passes at once.
    real_redis.delete(*real_redis.keys("*throttle*"))
    assert api.post("/api/auth/login/", body, format="json").status_code == 200


def test_a_history_left_by_an_earlier_release_is_started_afresh(
    api, user, password, settings, real_redis, fresh_throttle_memory
):
    """Earlier releases kept the history as a pickled list through the cache API."""
    from django_doubletoken.endpoints.throttle import LoginThrottle

    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "5/min"}
    key = store.throttle_key(LoginThrottle.scope, "127.0.0.1")
    store.cache().set(key, [1.0, 2.0], 60)
    _login(api, password)
    (history,) = real_redis.keys("*throttle*")
    assert real_redis.type(history) == b"list" and real_redis.llen(history) == 1


def test_a_full_history_keeps_the_limits_newest(
    api, user, password, settings, real_redis, fresh_throttle_memory
):
    """Past requests that aged out of the period make room: the newest one goes in, the
    oldest out, and the history never grows past the limit."""
    from django_doubletoken.endpoints.throttle import LoginThrottle

    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "2/min"}
    key = store.cache().make_key(store.throttle_key(LoginThrottle.scope, "127.0.0.1"))
    long_ago = time.time() - 120
    real_redis.rpush(key, repr(long_ago), repr(long_ago - 1))
    _login(api, password)
    times = [float(t) for t in real_redis.lrange(key, 0, -1)]
    assert len(times) == 2 and times[0] > time.time() - 60 and times[1] == long_ago


def test_a_redis_that_lost_the_script_is_sent_it_again(
    api, user, password, settings, real_redis, round_trips, fresh_throttle_memory
):
    """The script goes by its SHA; a server that no longer knows it (restarted, SCRIPT
    FLUSH) answers NOSCRIPT, and the script goes whole, in a second round trip."""
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "100/min"}
    _login(api, password)
    real_redis.script_flush()
    round_trips.clear()
    assert api.post("/api/auth/login/", {"username": "alice", "password": password},
                    format="json").status_code == 200
    assert len(round_trips) == 2
    assert DeviceSession.objects.count() == 2
    (history,) = real_redis.keys("*throttle*")
    assert real_redis.llen(history) == 2
    round_trips.clear()
    _login(api, password)
    assert len(round_trips) == 1  # known again


def test_on_a_cache_without_scripts_the_count_is_drfs(settings, rf):
    """A backend that runs no scripts keeps DRF's pickled list, read then written."""
    from django_doubletoken.endpoints.throttle import LoginThrottle

    settings.CACHES = {**settings.CACHES, "local": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}}
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "CACHE_ALIAS": "local"}
    throttle = LoginThrottle("2/min")
    request = rf.post("/", REMOTE_ADDR="192.0.2.1")
    assert [throttle.wait(request) for _ in range(2)] == [None, None]
    wait = throttle.wait(request)
    assert wait is not None and 59 < wait <= 60
    assert len(store.cache().get(throttle.key(request))) == 2
