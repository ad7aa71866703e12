"""The cache backends users run, each against Redis servers of its own (tests/servers.py).

A ``Backend`` knows its ``CACHES`` (and any DOUBLETOKEN setting it needs), how to flush its
servers, and how many commands they executed, read from ``INFO commandstats``: the count the
servers saw, whatever client library sent them.
"""

from __future__ import annotations

from pathlib import Path

import redis

from .servers import RedisClusterSet, RedisServer, SentinelSet, commands_received

# Commands the servers run among themselves or for the measurement: replication, Sentinel's
# probes, connection handshakes, topology discovery.
HOUSEKEEPING = {
    "info", "ping", "publish", "subscribe", "replconf", "psync", "sync", "hello", "select",
    "client|setinfo", "client|setname", "config|resetstat", "cluster|slots", "cluster|shards",
    "cluster|nodes", "cluster|info", "command", "command|docs", "readonly", "role",
}

TIMEOUTS = {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}
VALKEY_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
DEAD_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


class Backend:
    name = ""
    # The commands one request's read costs; each backend sends them in one round trip.
    request_read = {"mget": 1}

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def start(self) -> Backend:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def caches(self) -> dict:
        raise NotImplementedError

    def unreachable_caches(self) -> dict:
        raise NotImplementedError

    def doubletoken(self) -> dict:
        return {}

    def ports(self) -> list[int]:
        raise NotImplementedError

    def _clients(self) -> list[redis.Redis]:
        return [redis.Redis(port=port, socket_timeout=5) for port in self.ports()]

    def flush(self) -> None:
        for client in self._clients():
            if client.info("replication")["role"] == "master":
                client.flushall()

    def await_replicas(self) -> None:
        """Block until the replicas that serve reads hold every write so far (a request's
        read goes to one: a write it has not replicated yet reads as a cache miss)."""

    def reset_stats(self) -> None:
        for client in self._clients():
            client.config_resetstat()

    def data_commands(self) -> dict[str, int]:
        """Calls per command since the last reset, over every server, housekeeping left out."""
        total: dict[str, int] = {}
        for client in self._clients():
            for command, received in commands_received(client).items():
                if command not in HOUSEKEEPING:
                    total[command] = total.get(command, 0) + received
        return total


class SingleServer(Backend):
    """One redis-server, reached through ``backend_path`` with ``options``."""

    def __init__(self, directory: Path, name: str, backend_path: str, options: dict,
                 scheme: str = "redis") -> None:
        super().__init__(directory)
        self.name, self.backend_path, self.options, self.scheme = (
            name, backend_path, options, scheme)
        self.server = RedisServer()

    def start(self) -> SingleServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def ports(self) -> list[int]:
        return [self.server.port]

    def _config(self, url: str) -> dict:
        return {"BACKEND": self.backend_path, "LOCATION": url.replace("redis", self.scheme, 1),
                "OPTIONS": dict(self.options)}

    def caches(self) -> dict:
        return {"default": self._config(self.server.url)}

    def unreachable_caches(self) -> dict:
        return {"default": self._config(DEAD_URL)}


class ValkeySingleServer(SingleServer):
    # django-valkey 0.4's get_many is a transaction pipeline of GETs: one round trip, five
    # commands.
    request_read = {"multi": 1, "get": 3, "exec": 1}


class ValkeyWithAsync(ValkeySingleServer):
    """django-valkey's sync cache for the sync path and its native async cache, on the same
    server and keys, for the middleware's async path (ASYNC_CACHE_ALIAS)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, "django-valkey+async", "django_valkey.cache.ValkeyCache",
                         VALKEY_TIMEOUTS, scheme="valkey")

    def _async_config(self, url: str) -> dict:
        # django-valkey 0.4 keeps one process-wide pool per URL for its sync and async caches
        # alike; a query argument gives the async cache a pool (of async connections) of its own.
        return {**self._config(f"{url}?client_name=async"),
                "BACKEND": "django_valkey.async_cache.cache.AsyncValkeyCache"}

    def caches(self) -> dict:
        return {**super().caches(), "async": self._async_config(self.server.url)}

    def unreachable_caches(self) -> dict:
        return {**super().unreachable_caches(), "async": self._async_config(DEAD_URL)}

    def doubletoken(self) -> dict:
        return {"ASYNC_CACHE_ALIAS": "async"}


class Sentinel(Backend):
    name = "django-redis-sentinel"

    def start(self) -> Sentinel:
        self.servers = SentinelSet(self.directory).start()
        return self

    def stop(self) -> None:
        self.servers.stop()

    def ports(self) -> list[int]:
        return [self.servers.primary.port, self.servers.replica.port]

    def caches(self) -> dict:
        return self.servers.caches()

    def unreachable_caches(self) -> dict:
        config = self.servers.caches()
        # Another service name: django-redis keeps a pool per URL for the whole process.
        config["default"]["LOCATION"] = "redis://unreachable/0"
        config["default"]["OPTIONS"]["SENTINELS"] = [["127.0.0.1", 1]]
        return config

    def doubletoken(self) -> dict:
        return {"REVOCATION_REPLICA_ACKS": 1}

    def await_replicas(self) -> None:
        primary = redis.Redis(port=self.servers.primary.port, socket_timeout=10)
        assert primary.execute_command("WAIT", 1, 5000) == 1, "the replica did not catch up"


class Cluster(Backend):
    """Redis Cluster, 3 primaries + 3 replicas, through django-valkey's cluster cache."""

    name = "valkey-cluster"

    def start(self) -> Cluster:
        self.servers = RedisClusterSet(self.directory).start()
        return self

    def stop(self) -> None:
        self.servers.stop()

    def ports(self) -> list[int]:
        return self.servers.live_ports()

    def caches(self) -> dict:
        return self.servers.caches()

    def unreachable_caches(self) -> dict:
        config = self.servers.caches()
        config["default"]["LOCATION"] = DEAD_URL.replace("redis", "valkey", 1)
        del config["default"]["OPTIONS"]["BASE_CLIENT_KWARGS"]  # no live node to find
        return config

    def doubletoken(self) -> dict:
        return {"REVOCATION_REPLICA_ACKS": 1}


BACKENDS = {
    "django-redis": lambda d: SingleServer(d, "django-redis", "django_redis.cache.RedisCache",
                                           TIMEOUTS),
    "django-redis-sentinel": Sentinel,
    "django-core-redis": lambda d: SingleServer(
        d, "django-core-redis", "django.core.cache.backends.redis.RedisCache",
        {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}),
    "django-valkey": lambda d: ValkeySingleServer(
        d, "django-valkey", "django_valkey.cache.ValkeyCache", VALKEY_TIMEOUTS, scheme="valkey"),
    "django-valkey+async": ValkeyWithAsync,
    "valkey-cluster": Cluster,
}
