"""django-redis' ShardClient over two Redis servers: a session's keys stay on one shard."""

import re

import pytest
import redis

from .helpers import access_token, bearer
from .servers import RedisServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def shards(settings):
    servers = [RedisServer().start() for _ in range(2)]
    settings.CACHES = {"default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": [server.url for server in servers],
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient",
                    "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }}
    yield [redis.Redis(port=server.port, decode_responses=True) for server in servers]
    for server in servers:
        server.stop()


def test_sessions_work_and_keep_their_keys_together(api, user, login, shards):
    pairs = [login(device=f"d{i}") for i in range(12)]
    for pair in pairs:
        response = api.get("/api/me/", **bearer(access_token(pair, remaining=60)))
        assert response.status_code == 200 and response["NEW_HTTP_AUTHORIZATION"]
    api.post("/api/auth/logout/", **bearer(pairs[0]["access"]))
    assert api.get("/api/me/", **bearer(pairs[0]["access"])).json()["code"] == "session_revoked"
    assert api.get("/api/me/", **bearer(pairs[1]["access"])).status_code == 200

    home = {}
    for index, shard in enumerate(shards):
        for key in shard.keys("*doubletoken*"):
            sid = re.search(r"\{([0-9a-f-]{36})\}", key).group(1)
            assert home.setdefault(sid, index) == index, f"{sid} is split over shards"
    assert set(home) == {pair["session_id"] for pair in pairs}
    assert set(home.values()) == {0, 1}  # both shards are used
