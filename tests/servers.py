"""Real app servers and Redis servers for tests: separate processes on free loopback ports.

``app_server`` runs gunicorn (WSGI) or uvicorn (ASGI) with the test settings, pointed at the
running test's own database and Redis, so a test can talk to several independent "hosts".
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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
        except (requests.RequestException, redis.RedisError, OSError, LookupError):
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
               environ: dict[str, str] | None = None,
               asgi: str = "example_project.asgi:application",
               log: Path | None = None) -> Iterator[str]:
    """Serve the test project in its own process; yields its base URL. ``environ`` adds
    variables to the server's environment (e.g. ``tests.receivers.ENV_SWITCH``); ``asgi`` is
    uvicorn's application; ``log``, a file that receives the server's output."""
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
        env["DOUBLETOKEN_TEST_CACHES"] = json.dumps(caches, default=_cluster_node_as_json)
    if kind == "gunicorn":
        command = [sys.executable, "-m", "gunicorn", "example_project.wsgi:application",
                   "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                   "--worker-class", "gthread", "--threads", str(threads),
                   "--timeout", "60", "--log-level", "warning"]
    elif kind == "uvicorn":
        command = [sys.executable, "-m", "uvicorn", asgi,
                   "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                   "--log-level", "warning"]
    else:
        raise ValueError(kind)
    output = open(log, "ab") if log is not None else None  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output,
                               stderr=subprocess.STDOUT if output else None)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: requests.get(f"{base}/api/auth/jwks/", timeout=2).status_code,
                    timeout=90, what=f"{kind} on port {port}", process=process)
        yield base
    finally:
        _stop(process)
        if output is not None:
            output.close()


def _cluster_node_as_json(value: object) -> dict:
    """A cluster cache's startup node, for the server's settings (tests/settings.py reads it
    back)."""
    if type(value).__name__ == "ClusterNode":
        return {"cluster_node": [value.host, value.port]}
    raise TypeError(f"{value!r} cannot go to a server's settings")


class RedisServer:
    """A redis-server of the test's own, which the test may stop and start again."""

    def __init__(self, port: int | None = None, *extra: str) -> None:
        self.port = port or free_port()
        self.extra = extra
        self.process: subprocess.Popen | None = None
        # A directory of its own: a replica writes the primary's snapshot there (dump.rdb),
        # which any later redis-server started in the same directory would load.
        self.directory = tempfile.mkdtemp(prefix=f"redis-{self.port}-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        os.makedirs(self.directory, exist_ok=True)  # started again after stop()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.directory, *self.extra],
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
        shutil.rmtree(self.directory, ignore_errors=True)


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


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(100):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


class RedisClusterSet:
    """A Redis Cluster on loopback: ``primaries`` primaries, each with ``replicas`` replicas,
    made with ``redis-cli --cluster create``. Node timeout 1 s, so a dead primary is replaced
    within a few seconds."""

    NODE_TIMEOUT_MS = 1000

    def __init__(self, directory: Path, primaries: int = 3, replicas: int = 1) -> None:
        self.directory = directory
        self.primaries, self.replicas = primaries, replicas
        self.servers: dict[int, RedisServer] = {}

    def start(self) -> RedisClusterSet:
        try:
            self._start()
        except BaseException:
            self.stop()  # the caller never gets the set, so nobody else would stop its nodes
            raise
        return self

    def _start(self) -> None:
        for _ in range(self.primaries * (1 + self.replicas)):
            port = free_cluster_port()
            self.servers[port] = RedisServer(
                port, "--cluster-enabled", "yes",
                "--cluster-config-file", str(self.directory / f"nodes-{port}.conf"),
                "--cluster-node-timeout", str(self.NODE_TIMEOUT_MS)).start()
        nodes = [f"127.0.0.1:{port}" for port in self.servers]
        if self.primaries == 1 and self.replicas == 0:
            # redis-cli refuses a one-node cluster; assign every slot by hand.
            self.node(self.ports[0]).execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        else:
            created = subprocess.run(
                ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas",
                 str(self.replicas), "--cluster-yes"],
                capture_output=True, text=True, timeout=60)
            if created.returncode != 0:  # redis-cli says why on stdout
                raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout[-2000:]}"
                                   f"{created.stderr[-2000:]}")
        _wait_until(self._healthy, timeout=30, what="the cluster to converge")

    @property
    def ports(self) -> list[int]:
        return list(self.servers)

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, decode_responses=True, socket_connect_timeout=0.5,
                           socket_timeout=5)

    def live_ports(self) -> list[int]:
        return [port for port, server in self.servers.items()
                if server.process is not None and server.process.poll() is None]

    def _view(self) -> list[dict]:
        """CLUSTER SHARDS, as seen by the first live node that answers."""
        for port in self.live_ports():
            try:
                return self.node(port).execute_command("CLUSTER", "SHARDS")
            except (redis.RedisError, OSError):
                continue
        raise RuntimeError("no cluster node answers")

    def _healthy(self) -> bool:
        live = self.live_ports()
        if any(self.node(port).cluster("info")["cluster_state"] != "ok" for port in live):
            return False
        for shard in self._view():
            nodes = _shard_nodes(shard)
            primary = [n for n in nodes if n["role"] == "master" and n["health"] == "online"]
            synced = [n for n in nodes if n["role"] == "replica" and n["health"] == "online"]
            if shard["slots"] and (len(primary) != 1 or not set(
                    n["port"] for n in nodes if n["health"] == "online") <= set(live)):
                return False
            if shard["slots"] and len(synced) < min(self.replicas, len(live) - self.primaries):
                return False
        return True

    def primary_for_slot(self, slot: int) -> int:
        for shard in self._view():
            slots = shard["slots"]
            if any(low <= slot <= high for low, high in zip(slots[::2], slots[1::2], strict=True)):
                for node in _shard_nodes(shard):
                    if node["role"] == "master" and node["health"] == "online":
                        return node["port"]
        raise LookupError(f"slot {slot} is not served")

    def replica_of(self, port: int) -> int:
        for shard in self._view():
            nodes = _shard_nodes(shard)
            if any(n["port"] == port and n["role"] == "master" for n in nodes):
                return next(n["port"] for n in nodes if n["role"] == "replica"
                            and n["health"] == "online")
        raise LookupError(f"{port} is not a primary with a replica")

    def primary_ports(self) -> list[int]:
        return [n["port"] for shard in self._view() if shard["slots"]
                for n in _shard_nodes(shard) if n["role"] == "master"]

    def failover(self, slot: int, how: str = "graceful") -> int:
        """Hand ``slot``'s shard to its replica ("graceful": CLUSTER FAILOVER on the replica;
        "crash": kill the primary) and wait until the cluster agrees. Returns the new primary."""
        old = self.primary_for_slot(slot)
        new = self.replica_of(old)
        if how == "graceful":
            self.node(new).execute_command("CLUSTER", "FAILOVER")
        else:
            self.servers[old].kill()
        _wait_until(lambda: self.primary_for_slot(slot) == new and all(
            self.node(p).cluster("info")["cluster_state"] == "ok" for p in self.live_ports()),
            timeout=30, what=f"the failover of slot {slot}")
        return new

    def move_slot(self, slot: int, target: int, *, pause: float = 0.0) -> None:
        """Move ``slot`` (with its keys) to the primary on port ``target`` while clients keep
        using it: IMPORTING/MIGRATING, MIGRATE in batches, then SETSLOT NODE everywhere, as
        ``redis-cli --cluster reshard`` does. ``pause`` holds the slot half-moved that long
        (a multi-key read of the slot meanwhile gets TRYAGAIN, which clients retry)."""
        source = self.primary_for_slot(slot)
        if source == target:
            raise ValueError("the slot is already there")
        src, dst = self.node(source), self.node(target)
        src_id, dst_id = src.execute_command("CLUSTER", "MYID"), dst.execute_command(
            "CLUSTER", "MYID")
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        time.sleep(pause)
        while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10):
            src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
        for node in (dst, src, *(self.node(p) for p in self.primary_ports()
                                 if p not in (source, target))):
            node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        _wait_until(lambda: self.primary_for_slot(slot) == target, timeout=30,
                    what=f"slot {slot} to move")

    def commandstats(self) -> dict[str, int]:
        """Commands received, per command, summed over every live node since the last reset
        (executed ones and those refused before running, e.g. with TRYAGAIN or MOVED)."""
        total: dict[str, int] = {}
        for port in self.live_ports():
            for command, received in commands_received(self.node(port)).items():
                total[command] = total.get(command, 0) + received
        return total

    def reset_stats(self) -> None:
        for port in self.live_ports():
            self.node(port).config_resetstat()

    def flush(self) -> None:
        for port in self.primary_ports():
            self.node(port).flushall()

    def caches(self, location: int | None = None) -> dict:
        """The cache of the Redis Cluster how-to: ``LOCATION`` one node (``location``, by
        default the first), every other node a startup node (system check W007)."""
        from valkey.cluster import ClusterNode

        location = location or self.ports[0]
        return {"default": {
            "BACKEND": "django_valkey.cluster_cache.cache.ClusterValkeyCache",
            "LOCATION": f"valkey://127.0.0.1:{location}",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5,
                        "BASE_CLIENT_KWARGS": {"startup_nodes": [
                            ClusterNode("127.0.0.1", port) for port in self.ports
                            if port != location]}},
        }}

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def commands_received(client: redis.Redis) -> dict[str, int]:
    """``INFO commandstats`` of one server: per command, the calls it ran plus those it
    refused before running them (Redis 7 counts these apart, as rejected_calls)."""
    return {name.removeprefix("cmdstat_"): stats["calls"] + stats.get("rejected_calls", 0)
            for name, stats in client.info("commandstats").items()}


def _shard_nodes(shard: dict) -> list[dict]:
    return [dict(node) for node in shard["nodes"]]


class DelayingProxy:
    """A TCP proxy on loopback that forwards a client's bytes to ``upstream_port`` at once
    and the server's replies ``delay`` seconds late, in order: a slow or lossy network path
    from Redis to one host (a TCP retransmission), without root or a kernel queueing
    discipline. Runs its own event loop in a thread."""

    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream_port, self.delay = upstream_port, delay
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> DelayingProxy:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._connection, "127.0.0.1", self.port), self._loop)
        self._server = started.result(timeout=10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _connection(self, client_reader, client_writer) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.upstream_port)
        await asyncio.gather(self._pump(client_reader, upstream_writer, 0.0),
                             self._pump(upstream_reader, client_writer, self.delay),
                             return_exceptions=True)
        for writer in (client_writer, upstream_writer):
            writer.close()

    async def _pump(self, reader, writer, delay: float) -> None:
        due: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while True:
                at, data = await due.get()
                await asyncio.sleep(max(0.0, at - self._loop.time()))
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(65536)
                await due.put((self._loop.time() + delay, data))
                if not data:
                    break
            await sender
        finally:
            sender.cancel()
