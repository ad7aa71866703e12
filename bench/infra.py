"""The processes a benchmark run owns: its redis-server, its database, its gunicorns, wrk.

Everything binds to 127.0.0.1 on ports picked free at start, and everything started here is
stopped by the same object that started it (by its own pid), so a run leaves nothing behind
and never touches the Redis databases or PostgreSQL databases other people use.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

BENCH_DIR = Path(__file__).resolve().parent
LUA_SCRIPT = BENCH_DIR / "lua" / "bench.lua"


def free_port() -> int:
    """A TCP port nobody listens on right now (bind to 0, let the kernel choose)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen, timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


class RedisServer:
    """A private redis-server: INFO commandstats and MEMORY USAGE then see only our traffic."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._log = open(workdir / "redis.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", str(workdir),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.client = redis.Redis(port=self.port, socket_connect_timeout=2)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"no redis-server on port {self.port}") from exc
                time.sleep(0.05)
        self.version = self.client.info("server")["redis_version"]

    def reset_stats(self) -> None:
        """Start counting afresh, once the requests a server was still answering when the
        last round's wrk stopped are done: a loaded machine finishes them late, and their
        commands and CPU would be counted in the next round, another stack's."""
        self.wait_idle()
        self.client.config_resetstat()

    def wait_idle(self, quiet: float = 0.25, timeout: float = 5) -> bool:
        """Whether Redis went ``quiet`` seconds without a command from anyone but us (within
        ``timeout``; a client that never goes quiet only costs the wait)."""
        deadline = time.monotonic() + timeout
        processed = self._commands_processed()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self._commands_processed()
            if now - processed <= 1:  # the INFO that read the previous count
                return True
            processed = now
        return False

    def _commands_processed(self) -> int:
        return int(self.client.info("stats")["total_commands_processed"])

    def command_stats(self) -> dict[str, int]:
        """Calls per command since the last reset, without our own bookkeeping commands and
        without what a client sends once per new connection (a short round that opens pool
        connections would otherwise show them as per-request cost)."""
        stats = self.client.info("commandstats")
        calls = {
            name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()
        }
        for ours in ("info", "config|resetstat", "memory|usage", "ping", "dbsize", "scan"):
            calls.pop(ours, None)
        for connection_setup in ("hello", "select", "auth", "client|setinfo", "client|setname",
                                 "client|id", "client|tracking", "subscribe"):
            calls.pop(connection_setup, None)
        return calls

    def net_bytes(self) -> tuple[int, int]:
        """(bytes received by Redis, bytes sent by Redis) since the last reset."""
        stats = self.client.info("stats")
        return int(stats["total_net_input_bytes"]), int(stats["total_net_output_bytes"])

    def stop(self) -> None:
        self.client.close()
        _stop(self.process)
        self._log.close()


class Database:
    """A PostgreSQL database of our own (created and dropped here), or a SQLite file."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self.name = f"bench_doubletoken_{os.getpid()}"
        self.sqlite_path = workdir / "bench.sqlite3"
        if kind == "postgres":
            self._admin("CREATE DATABASE {}")

    def env(self) -> dict[str, str]:
        return {
            "BENCH_DB": self.kind,
            "BENCH_PG_NAME": self.name,
            "BENCH_SQLITE_PATH": str(self.sqlite_path),
        }

    def _admin(self, statement: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=os.environ.get("PGHOST", "127.0.0.1"),
            port=os.environ.get("PGPORT", "5432"),
            user=os.environ.get("PGUSER", "postgres"),
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(sql.SQL(statement).format(sql.Identifier(self.name)))

    def drop(self) -> None:
        if self.kind == "postgres":
            # FORCE: gunicorn workers may still hold persistent connections while stopping.
            self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")


@dataclass
class AppServer:
    """One server for the bench project for one stack (see benchproject/settings.py): gunicorn
    (WSGI) by default, or uvicorn (ASGI) with ``server="uvicorn"``; ``extra_env`` varies the
    settings further (bench/asgi_path.py)."""

    stack: str
    env: dict[str, str]
    workdir: Path
    workers: int = 2
    worker_class: str = "sync"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    server: str = "gunicorn"
    extra_env: dict[str, str] = field(default_factory=dict)
    name: str = ""
    extra_args: tuple[str, ...] = ()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def _log_path(self) -> Path:
        return self.workdir / f"{self.server}-{self.name or self.stack}.log"

    def _command(self) -> list[str]:
        if self.server == "uvicorn":
            return [
                sys.executable, "-m", "uvicorn", "benchproject.asgi:application",
                "--app-dir", str(BENCH_DIR),
                "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", str(self.workers),
                "--backlog", "512",
                "--no-access-log", "--log-level", "warning",
                *self.extra_args,
            ]
        return [
            sys.executable, "-m", "gunicorn", "benchproject.wsgi:application",
            "--chdir", str(BENCH_DIR),
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--worker-class", self.worker_class,
            # Room for every wrk connection: a full backlog would show as connect errors.
            "--backlog", "512",
            "--log-level", "warning",
            *self.extra_args,
        ]

    def start(self) -> None:
        self._log = open(self._log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            self._command(),
            cwd=BENCH_DIR,
            env={**os.environ, **self.env, **self.extra_env, "BENCH_STACK": self.stack},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                log = self._log_path.read_text()[-2000:]
                raise RuntimeError(f"{self.server} ({self.stack}) exited:\n{log}")
            try:
                if requests.get(f"{self.base_url}/health/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:  # workers still booting
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.server} ({self.stack}) not ready after {timeout} s")

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        # A single-process server (uvicorn --workers 1) is its own worker.
        return [int(pid) for pid in out.split()] or [self.process.pid]

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self._log.close()


def cpu_seconds(pids: list[int]) -> float:
    """CPU time these processes have used so far, in seconds, to the nanosecond.

    From /proc/PID/schedstat (time on a CPU, kernel and user), which unlike the tick-counted
    utime/stime of /proc/PID/stat is precise enough for one round. Divided by the requests
    served, it gives a cost per request that other load on the machine hardly changes,
    unlike requests per second.

    Summed over every thread of each process: under uvicorn, sync views and sync middleware
    run in asgiref's worker threads (long-lived, so their time is not lost).
    """
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                continue  # exited (a gunicorn worker restarted): its time is lost, rarely
    return total / 1e9


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package when it is missing (we run as root)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing Debian's wrk package with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk could not be installed")
    return found


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True)
    return (out.stdout + out.stderr).splitlines()[0].strip()


def run_wrk(
    wrk: str,
    url: str,
    mode: str,
    items: list[str],
    path: str,
    *,
    duration: float,
    connections: int,
    threads: int,
) -> dict[str, Any]:
    """One wrk run in its own process; returns what bench.lua's done() printed."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(items) + "\n")
        items_file = handle.name
    try:
        completed = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--timeout", "10s",
                "-s", str(LUA_SCRIPT),
                url,
                "--", mode, items_file, path, str(threads),
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
        )
    finally:
        os.unlink(items_file)
    for line in completed.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            result = json.loads(line.removeprefix("BENCHJSON "))
            seconds = result["duration_us"] / 1e6
            result["rps"] = result["requests"] / seconds if seconds else 0.0
            return result
    raise RuntimeError(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")


def backing_services(
    cleanup: contextlib.ExitStack, workdir: Path, database_kind: str
) -> tuple[RedisServer, dict[str, str]]:
    """A private redis-server and database for one run, Django set up on the bench project
    in this process and the schema migrated; stopped and dropped by ``cleanup``. Returns the
    redis-server and the environment every server of the run needs."""
    redis_server = RedisServer(workdir)
    cleanup.callback(redis_server.stop)
    database = Database(database_kind, workdir)
    cleanup.callback(database.drop)
    env = {"BENCH_REDIS_URL": redis_server.url, **database.env()}
    os.environ.update(env, BENCH_STACK="ours", DJANGO_SETTINGS_MODULE="benchproject.settings")

    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    cleanup.callback(connections.close_all)
    call_command("migrate", verbosity=0)
    return redis_server, env
