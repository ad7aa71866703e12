"""Real app servers and Redis servers for tests: separate processes on free loopback ports.

``app_server`` runs gunicorn (WSGI) or uvicorn (ASGI) with the test settings, pointed at the
running test's own database and Redis, so a test can talk to several independent "hosts".
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import redis
import requests
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(check, timeout: float, what: str, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if check():
                return
        except (requests.RequestException, redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _settings_env(overrides: dict) -> str:
    plain = {k: v.total_seconds() if isinstance(v, timedelta) else v
             for k, v in overrides.items()}
    return json.dumps(plain)


@contextmanager
def app_server(kind: str = "gunicorn", *, workers: int = 2, threads: int = 8,
               doubletoken: dict | None = None, caches: dict | None = None,
               environ: dict[str, str] | None = None) -> Iterator[str]:
    """Serve the test project in its own process; yields its base URL. ``environ`` adds
    variables to the server's environment (e.g. ``tests.receivers.ENV_SWITCH``)."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DOUBLETOKEN_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
        "TEST_REDIS_URL": settings.REDIS_URL,
        "DOUBLETOKEN_TEST_SETTINGS": _settings_env(doubletoken or {}),
        "PYTHONPATH": str(ROOT),
        **(environ or {}),
    }
    if caches is not None:
        env["DOUBLETOKEN_TEST_CACHES"] = json.dumps(caches)
    if kind == "gunicorn":
        command = [sys.executable, "-m", "gunicorn", "example_project.wsgi:application",
                   "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                   "--worker-class", "gthread", "--threads", str(threads),
                   "--timeout", "60", "--log-level", "warning"]
    elif kind == "uvicorn":
        command = [sys.executable, "-m", "uvicorn", "example_project.asgi:application",
                   "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                   "--log-level", "warning"]
    else:
        raise ValueError(kind)
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: requests.get(f"{base}/api/auth/jwks/", timeout=2).status_code,
                    timeout=30, what=f"{kind} on port {port}", process=process)
        yield base
    finally:
        _stop(process)


class RedisServer:
    """A redis-server of the test's own, which the test may stop and start again."""

    def __init__(self, port: int | None = None, *extra: str) -> None:
        self.port = port or free_port()
        self.extra = extra
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tempfile.gettempdir(), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        _wait_until(client.ping, timeout=10, what=f"redis-server on {self.port}",
                    process=self.process)
        return self

    def kill(self) -> None:
        """Stop it hard, as a crash would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)


def cache_config(url: str) -> dict:
    return {"default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }}


class SentinelSet:
    """One primary, one replica and three sentinels on free loopback ports."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.primary = RedisServer()
        # Unique per set: django-redis keeps connection pools per URL for the whole process.
        self.service = f"primary{self.primary.port}"
        self.replica = None
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinels: list[subprocess.Popen] = []

    def start(self) -> SentinelSet:
        self.primary.start()
        self.replica = RedisServer(None, "--replicaof", "127.0.0.1", str(self.primary.port))
        self.replica.start()
        for port in self.sentinel_ports:
            config = self.directory / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                f"sentinel monitor {self.service} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {self.service} 1000\n"
                f"sentinel failover-timeout {self.service} 4000\n"
                f"sentinel parallel-syncs {self.service} 1\n")
            self.sentinels.append(subprocess.Popen(
                ["redis-server", str(config), "--sentinel"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        first = self.sentinel(0)
        _wait_until(lambda: self._replica_known(first) and
                    len(first.sentinel_sentinels(self.service)) == 2,
                    timeout=20, what="the sentinels to see the replica and each other")
        return self

    def _replica_known(self, sentinel: redis.Redis) -> bool:
        replicas = sentinel.sentinel_slaves(self.service)
        return any(r["port"] == self.replica.port and not r.get("is_disconnected")
                   and r.get("master-link-status", "ok") == "ok" for r in replicas)

    def sentinel(self, index: int) -> redis.Redis:
        return redis.Redis(port=self.sentinel_ports[index], decode_responses=True,
                           socket_connect_timeout=1)

    def primary_port(self) -> int:
        return int(self.sentinel(0).sentinel_get_master_addr_by_name(self.service)[1])

    def failover(self, how: str = "graceful") -> None:
        """Force a failover ("graceful": SENTINEL FAILOVER; "crash": kill the primary) and
        wait until the sentinels name the replica as primary."""
        old = self.primary_port()
        if how == "graceful":
            self.sentinel(0).execute_command("SENTINEL", "FAILOVER", self.service)
        else:
            self.primary.kill()
        _wait_until(lambda: self.primary_port() != old, timeout=30, what="the failover")

    def caches(self) -> dict:
        return {"default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://{self.service}/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.SentinelClient",
                "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                "SENTINELS": [["127.0.0.1", port] for port in self.sentinel_ports],
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }}

    def stop(self) -> None:
        for process in self.sentinels:
            _stop(process)
        for server in (self.replica, self.primary):
            if server is not None:
                server.stop()
