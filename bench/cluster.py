"""Redis Cluster capacity for django-doubletoken, on private loopback clusters.

    python bench/cluster.py [--requests 300000] [--sessions 20000]

1. Throughput of the per-request read (``MGET`` of a session's three keys, one hash tag) with
   ``redis-benchmark --cluster`` against a cluster of 1 primary and one of 3 primaries.
2. Redis memory per session written through the app's store (state + last-used marker, and
   a slid-token entry), on the cluster and on a plain redis-server.
3. What one request's read costs while its session's slot moves to another primary:
   commands, redirections and latency per read before, during and after the move.

Prints a Markdown report; the README's "Redis Cluster" section quotes it.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.test import override_settings  # noqa: E402
from redis.crc import key_slot  # noqa: E402

from django_doubletoken import store  # noqa: E402
from tests.servers import RedisClusterSet, RedisServer  # noqa: E402

# The app's three keys of one session (CACHE_KEY_PREFIX "doubletoken", Django's ":1:" version).
READ = ["MGET", ":1:doubletoken:s:{tag}", ":1:doubletoken:j:{tag}:jti", ":1:doubletoken:u:{tag}"]
ACCESS_TOKEN_BYTES = 400  # an HS256 access token of ours is 370-420 bytes


def benchmark(port: int, requests: int, clients: int, cluster: bool) -> float:
    """requests/s of the read, as redis-benchmark reports it. ``cluster``: spread over every
    primary (``{tag}`` becomes a hash tag of each one's slots); without it (redis-benchmark
    refuses a one-node cluster) the one node is asked with a fixed tag."""
    if cluster:
        mode, command = ["--cluster"], READ
    else:
        mode, command = [], [part.replace("{tag}", "{session}") for part in READ]
    output = subprocess.run(
        ["redis-benchmark", *mode, "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
         "-n", str(requests), "--threads", "2", "-q", *command],
        check=True, capture_output=True, text=True, timeout=600).stdout
    found = re.findall(r"([\d.]+) requests per second", output.replace("\r", "\n"))
    if not found:
        raise RuntimeError(f"no figure in redis-benchmark output: {output!r}")
    return float(found[-1])


def throughput(directory: Path, requests: int, clients: int, rounds: int) -> dict[int, dict]:
    """Per cluster size: reads/s (median of ``rounds``, the sizes alternating so both see the
    same machine load), and each primary's share of the MGETs with its server CPU per MGET
    (``INFO commandstats`` usec_per_call, last round)."""
    clusters = {}
    results: dict[int, dict] = {}
    try:
        for primaries in (1, 3):
            (directory / f"tp{primaries}").mkdir()
            clusters[primaries] = RedisClusterSet(directory / f"tp{primaries}", primaries,
                                                  replicas=0).start()
            benchmark(clusters[primaries].ports[0], requests // 10, clients, primaries > 1)
            results[primaries] = {"rates": []}
        for _ in range(rounds):
            for primaries, cluster in clusters.items():
                cluster.reset_stats()
                results[primaries]["rates"].append(
                    benchmark(cluster.ports[0], requests, clients, primaries > 1))
                per_node = [cluster.node(port).info("commandstats")["cmdstat_mget"]
                            for port in cluster.primary_ports()]
                total = sum(stats["calls"] for stats in per_node)
                results[primaries]["shares"] = [stats["calls"] / total for stats in per_node]
                results[primaries]["usec_per_call"] = [stats["usec_per_call"]
                                                       for stats in per_node]
    finally:
        for cluster in clusters.values():
            cluster.stop()
    for row in results.values():
        row["rate"] = statistics.median(row["rates"])
    return results


def _used_memory(ports: list[int], node) -> int:
    return sum(node(port).info("memory")["used_memory"] for port in ports)


def _write_sessions(count: int, slid: bool) -> None:
    for _ in range(count):
        sid = str(uuid.uuid4())
        store.remember_session(sid, store.SessionState("12345", ""), 86400)
        store.mark_used(sid)
        if slid:
            store.add_successor(sid, uuid.uuid4().hex,
                                store.Successor("x" * ACCESS_TOKEN_BYTES, int(time.time())), 900)


def memory(directory: Path, sessions: int) -> dict[str, tuple[float, float]]:
    """Bytes per session (state + marker; with a slid-token entry), cluster vs standalone."""
    results = {}
    cluster = RedisClusterSet(directory / "mem", 3, replicas=0)
    (directory / "mem").mkdir()
    single = RedisServer()
    try:
        cluster.start()
        single.start()
        setups = {
            "Redis Cluster (3 primaries, django-valkey)": (
                cluster.caches(), cluster.primary_ports(), cluster.node),
            "one redis-server (django-redis)": (
                {"default": {"BACKEND": "django_redis.cache.RedisCache",
                             "LOCATION": single.url}}, [single.port], cluster.node),
            "one redis-server (django-valkey)": (
                {"default": {"BACKEND": "django_valkey.cache.ValkeyCache",
                             "LOCATION": single.url.replace("redis", "valkey", 1)}},
                [single.port], cluster.node),
        }
        for name, (caches, ports, node) in setups.items():
            figures = []
            for port in ports:
                node(port).flushall()
            with override_settings(CACHES=caches):
                for slid in (False, True):
                    before = _used_memory(ports, node)
                    _write_sessions(sessions, slid)
                    figures.append((_used_memory(ports, node) - before) / sessions)
            results[name] = (figures[0], figures[1])
    finally:
        cluster.stop()
        single.stop()
    return results


def _errorstats(cluster: RedisClusterSet) -> dict[str, int]:
    total: dict[str, int] = {}
    for port in cluster.live_ports():
        for name, stats in cluster.node(port).info("errorstats").items():
            error = name.removeprefix("errorstat_")
            total[error] = total.get(error, 0) + stats["count"]
    return total


def slot_move(directory: Path, pause: float) -> list[dict]:
    """Reads of one session in a loop while its slot moves (held half-moved ``pause`` s)."""
    cluster = RedisClusterSet(directory / "move", 3, replicas=0)
    (directory / "move").mkdir()
    cluster.start()
    rows = []
    try:
        with override_settings(CACHES=cluster.caches()):
            sid, jti = str(uuid.uuid4()), uuid.uuid4().hex
            store.remember_session(sid, store.SessionState("12345", ""), 86400)
            store.mark_used(sid)
            slot = key_slot(sid.encode())
            source = cluster.primary_for_slot(slot)
            target = next(p for p in cluster.primary_ports() if p != source)

            def phase(name: str, action) -> None:
                latencies, failures = [], 0
                done = threading.Event()
                cluster.reset_stats()

                def reads():
                    nonlocal failures
                    while not done.is_set():
                        started = time.perf_counter()
                        try:
                            store.read_request_state(sid, jti)
                        except store.ServiceUnavailable:
                            failures += 1
                        latencies.append((time.perf_counter() - started) * 1e6)

                reader = threading.Thread(target=reads)
                reader.start()
                action()
                done.set()
                reader.join()
                # The client's own commands: not the measurement's, nor MIGRATE's (select,
                # restore-asking), nor connection handshakes.
                commands = {k: v for k, v in cluster.commandstats().items()
                            if k in ("mget", "asking", "cluster|slots")}
                errors = {k: v for k, v in _errorstats(cluster).items()
                          if k in ("ASK", "MOVED", "TRYAGAIN")}
                rows.append({"phase": name, "reads": len(latencies), "failed": failures,
                             "commands": commands, "errors": errors,
                             "median_us": statistics.median(latencies),
                             "max_us": max(latencies)})

            phase("steady (before)", lambda: time.sleep(1))
            phase(f"slot moving ({pause:g} s half-moved)",
                  lambda: cluster.move_slot(slot, target, pause=pause))
            phase("steady (after)", lambda: time.sleep(1))
    finally:
        cluster.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--pause", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="doubletoken-cluster-bench-"))

    rates = throughput(directory, args.requests, args.clients, args.rounds)
    print(f"## Per-request read (`redis-benchmark [--cluster] -c {args.clients} -n "
          f"{args.requests} --threads 2`, MGET of 3 keys with one hash tag)\n")
    print(f"| primaries | reads/s (median of {args.rounds}) | rounds | share of MGETs per "
          "primary | server µs per MGET |")
    print("|---:|---:|---|---|---|")
    for primaries, row in rates.items():
        shares = " / ".join(f"{share:.0%}" for share in row["shares"])
        usec = " / ".join(f"{usec:.2f}" for usec in row["usec_per_call"])
        each = " / ".join(f"{rate:,.0f}" for rate in row["rates"])
        print(f"| {primaries} | {row['rate']:,.0f} | {each} | {shares} | {usec} |")
    print(f"\n3 vs 1 primaries: x{rates[3]['rate'] / rates[1]['rate']:.2f} on "
          f"{os.cpu_count()} cores shared by every redis-server and redis-benchmark (the µs "
          "column is command execution only; I/O is most of a read's server cost).\n")

    print(f"## Memory per session ({args.sessions:,} sessions, `INFO memory` used_memory)\n")
    print("| where | state + marker | + one slid-token entry |\n|---|---:|---:|")
    for name, (plain, slid) in memory(directory, args.sessions).items():
        print(f"| {name} | {plain:.0f} B | {slid:.0f} B |")

    print("\n## One session's reads while its slot moves (one thread, reads back to back)\n")
    print("| phase | reads | failed | commands sent per read | replies ASK / MOVED / TRYAGAIN "
          "| median | max |")
    print("|---|---:|---:|---|---|---:|---:|")
    for row in slot_move(directory, args.pause):
        per_read = ", ".join(f"{k.upper().replace('|', ' ')} {v / row['reads']:.2f}" for k, v in
                             sorted(row["commands"].items()))
        errors = " / ".join(str(row["errors"].get(k, 0)) for k in ("ASK", "MOVED", "TRYAGAIN"))
        print(f"| {row['phase']} | {row['reads']} | {row['failed']} | {per_read} | {errors} | "
              f"{row['median_us']:,.0f} µs | {row['max_us']:,.0f} µs |")


if __name__ == "__main__":
    main()
