import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from django_doubletoken import client_side_cache, store

from .servers import RedisServer, cache_config

# Lines test_fuzz.py leaves for the terminal summary: what the fuzzed endpoints answered.
FUZZ_REPORT = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(FUZZ_REPORT, None)
    if lines:
        terminalreporter.section("fuzz report")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session", autouse=True)
def real_redis():
    """The suite needs a real Redis; without one it stops here, loudly, rather than skip."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.exit(
            f"No Redis at {settings.REDIS_URL} ({exc}). Start one (the README's test command "
            "does) or set TEST_REDIS_URL.",
            returncode=3,
        )
    return client


@pytest.fixture(autouse=True)
def clean_redis(real_redis):
    real_redis.flushdb()
    yield


class CountingCache:
    """Wraps the real cache and counts calls: one call is one round trip for django-redis
    (get_many is one MGET, set_many one pipeline)."""

    def __init__(self, cache):
        self._cache = cache
        self.calls: list[str] = []

    def __getattr__(self, name):
        attr = getattr(self._cache, name)
        if callable(attr) and not name.startswith("_") and name not in ("make_key",):
            def counted(*args, **kwargs):
                self.calls.append(name)
                return attr(*args, **kwargs)
            return counted
        return attr


@pytest.fixture
def counting_cache(monkeypatch):
    """Counts every cache round trip of the app: calls on the Django cache and, with
    CLIENT_SIDE_CACHE on, commands on the tracked connection (as "tracked mget")."""
    counter = CountingCache(store.cache())
    # The store's modules call store.base.cache(); other modules call store.cache().
    monkeypatch.setattr(store.base, "cache", lambda: counter)
    monkeypatch.setattr(store, "cache", lambda: counter)
    command = client_side_cache.Tracker._command

    def counted_command(tracker, *args):
        counter.calls.append(f"tracked {args[0].lower()}")
        return command(tracker, *args)

    monkeypatch.setattr(client_side_cache.Tracker, "_command", counted_command)
    return counter


def _command_names(data: bytes) -> list[str]:
    """The names of the RESP commands packed in ``data``."""
    names, at = [], 0
    while at < len(data):
        end = data.index(b"\r\n", at)
        count, at = int(data[at + 1:end]), end + 2
        for index in range(count):
            end = data.index(b"\r\n", at)
            length, at = int(data[at + 1:end]), end + 2
            if index == 0:
                names.append(data[at:at + length].decode().upper())
            at += length + 2
    return names


@pytest.fixture
def round_trips(monkeypatch):
    """Every write of a command (or of a pipeline or script call) to a Redis socket, in order:
    one round trip each, whichever client (the cache's, a raw pipeline) sent it."""
    import redis.connection

    sent = []
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    return sent


@pytest.fixture
def redis_wire(monkeypatch):
    """What goes over the app's Redis sockets, in order: ("send", command names) for each
    write (one round trip: a command, or a pipeline or script call) and ("read", None) for
    each reply read. Raw-client paths (pipelines, scripts, the refresh's overlapped SET)
    bypass ``counting_cache``; this sees them. Tests append their own events (SQL) to it."""
    import redis.connection

    events = []
    send = redis.connection.AbstractConnection.send_packed_command
    read = redis.connection.AbstractConnection.read_response

    def sent(self, command, check_health=True):
        packed = command if isinstance(command, list) else [command]
        data = b"".join(bytes(part) for part in packed)
        events.append(("send", _command_names(data)))
        return send(self, command, check_health)

    def replied(self, *args, **kwargs):
        events.append(("read", None))
        return read(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", sent)
    monkeypatch.setattr(redis.connection.AbstractConnection, "read_response", replied)
    return events


@pytest.fixture
def password():
    return "correct horse battery staple"


@pytest.fixture
def user(django_user_model, password):
    return django_user_model.objects.create_user("alice", "alice@example.com", password)


@pytest.fixture
def other_user(django_user_model, password):
    return django_user_model.objects.create_user("bob", "bob@example.com", password)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def login(api, password):
    def _login(username="alice", **extra):
        response = api.post(
            "/api/auth/login/", {"username": username, "password": password, **extra},
            format="json",
        )
        assert response.status_code == 200, response.content
        return response.json()

    return _login


@pytest.fixture
def own_redis(settings):
    """A redis-server of this test's own, the app's cache pointed at it: no other test's
    FLUSHDB or keys reach it, and the test may stop it."""
    server = RedisServer().start()
    settings.CACHES = cache_config(server.url)
    yield server
    server.stop()
