"""Test settings: the example project's, on a real Redis and a throwaway database.

TEST_REDIS_URL  Redis the tests may flush (default: redis://127.0.0.1:6379/15).
TEST_DB         "sqlite" (default, a file so live-server threads share it) or "postgres"
                (127.0.0.1:5432, user postgres; for the row-locking concurrency tests).
"""

import json
import os
import tempfile
from datetime import timedelta

from example_project.settings import *  # noqa: F403
from example_project.settings import DOUBLETOKEN, INSTALLED_APPS, REST_FRAMEWORK

DEBUG = False
ALLOWED_HOSTS = ["*"]
# simplejwt's blacklist: what a project migrating from simplejwt has (tests/test_simplejwt.py).
INSTALLED_APPS = [*INSTALLED_APPS, "drf_spectacular", "rest_framework_simplejwt.token_blacklist",
                  "tests"]
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
ROOT_URLCONF = "tests.urls"

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Under pytest-xdist every worker flushes a Redis database of its own: worker gwN takes the Nth
# database after TEST_REDIS_URL's. Written back to the environment once, so that the servers and
# subprocesses a test starts (they inherit it) use the worker's database and do not shift again.
if os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get("DOUBLETOKEN_TEST_REDIS_RESOLVED"):
    _base, _, _db = REDIS_URL.rpartition("/")
    REDIS_URL = f"{_base}/{int(_db) + int(os.environ['PYTEST_XDIST_WORKER'].removeprefix('gw'))}"
    os.environ["TEST_REDIS_URL"] = REDIS_URL
    os.environ["DOUBLETOKEN_TEST_REDIS_RESOLVED"] = "1"
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    }
}
# The example project silences the shared-cache warning for its Redis-less fallback only.
SILENCED_SYSTEM_CHECKS: list[str] = []

# As docs/websockets.md sets it up: a socket timeout above channels-redis's 5 s blocking read.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 10}]},
    }
}
# {"hosts": [...]} for a server started by a test with another channel-layer config, e.g.
# redis-py's default socket timeout ("DEFAULT_HOSTS").
if os.environ.get("DOUBLETOKEN_TEST_CHANNEL_HOSTS"):
    _hosts = json.loads(os.environ["DOUBLETOKEN_TEST_CHANNEL_HOSTS"])
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [
        REDIS_URL if host == "DEFAULT_HOSTS" else host for host in _hosts]

if os.environ.get("TEST_DB", "sqlite") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "postgres",
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "TEST": {"NAME": f"test_doubletoken_{os.getpid()}"},
        }
    }
else:
    _db_dir = tempfile.mkdtemp(prefix="doubletoken-tests-")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(_db_dir, "db.sqlite3"),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
            "TEST": {"NAME": os.path.join(_db_dir, "test.sqlite3")},
        }
    }

# An app server started by a test (tests/servers.py) uses the test's own database and
# settings, passed through the environment.
if os.environ.get("DOUBLETOKEN_TEST_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["DOUBLETOKEN_TEST_DB_NAME"]


def _cluster_node(value: dict) -> object:
    """A cluster cache's startup node, as tests/servers.py wrote it."""
    if set(value) != {"cluster_node"}:
        return value
    from valkey.cluster import ClusterNode

    return ClusterNode(*value["cluster_node"])


if os.environ.get("DOUBLETOKEN_TEST_CACHES"):
    CACHES = json.loads(os.environ["DOUBLETOKEN_TEST_CACHES"], object_hook=_cluster_node)

# A server started by tests/test_simplejwt.py: the simplejwt settings of the how-to's project.
if os.environ.get("DOUBLETOKEN_TEST_SIMPLE_JWT"):
    from tests.simplejwt_project import SIMPLE_JWT  # noqa: F401

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DOUBLETOKEN = {
    **DOUBLETOKEN,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "SESSION_LIFETIME": timedelta(days=30),
    "SLIDING_THRESHOLD": timedelta(minutes=5),
    "GRACE_PERIOD": timedelta(seconds=30),
    "SIGNING_KEY": "tests-signing-key-0123456789abcdef0123456789abcdef",
    "LOGIN_THROTTLE_RATE": None,
    # The suite runs the app's defaults; the example's "roles" claims are tested on their own
    # (tests/test_claims.py).
    "ACCESS_TOKEN_CLAIMS": None,
}
# DPoP stays off unless a test turns it on (the example binds its web profile's sessions:
# tests/test_browser_dpop.py runs the demo that way).
DOUBLETOKEN["CLIENT_PROFILES"] = {
    name: {key: value for key, value in profile.items() if key != "DPOP"}
    for name, profile in DOUBLETOKEN["CLIENT_PROFILES"].items()}
# Durations in seconds, e.g. {"GRACE_PERIOD": 2}, for servers started by tests.
for _key, _value in json.loads(os.environ.get("DOUBLETOKEN_TEST_SETTINGS", "{}")).items():
    _duration = isinstance(_value, (int, float)) and not isinstance(_value, bool)
    DOUBLETOKEN[_key] = timedelta(seconds=_value) if _duration else _value
