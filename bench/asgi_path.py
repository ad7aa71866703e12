#!/usr/bin/env python
"""ASGI next to WSGI: which server and view style to choose, measured in one run.

The bench project (bench/benchproject, the same tiny view returning the user's pk, the
revocation check on, 2 workers per server) under gunicorn sync workers and under uvicorn,
with the DRF view, an adrf async view and a django-ninja async operation; the revocation
check read through django-redis, through django-valkey's natively async cache
(``ASYNC_CACHE_ALIAS``) or from process memory (``CLIENT_SIDE_CACHE``). simplejwt's
``JWTAuthentication`` and ``JWTStatelessUserAuthentication`` are the outside reference, under
gunicorn and under the same uvicorn setup (a DRF view), so each variant is also compared with
the peer in the same server. wrk drives GET on each variant
in turn, the order reversed every other round, and the median round is reported with the
server CPU per request (every thread of every worker, and the redis-server).

    python bench/asgi_path.py [--duration 8] [--rounds 3] [--connections 16]

Writes bench/results/asgi.{json,md} (or --output-dir).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from infra import (  # noqa: E402
    AppServer,
    RedisServer,
    backing_services,
    cpu_seconds,
    ensure_wrk,
    run_wrk,
    wrk_version,
)


@dataclass(frozen=True)
class Variant:
    label: str
    server: str  # "gunicorn" (WSGI, sync workers) or "uvicorn" (ASGI)
    stack: str  # BENCH_STACK
    path: str
    env: dict[str, str] = field(default_factory=dict)
    # uvicorn on uvloop and httptools (uvicorn[standard]) unless a variant says otherwise
    args: tuple[str, ...] = ()

    @property
    def server_args(self) -> tuple[str, ...]:
        if self.server != "uvicorn" or "--loop" in self.args:
            return self.args
        return ("--loop", "uvloop", "--http", "httptools", *self.args)

    @property
    def server_key(self) -> tuple:
        return (self.server, self.stack, tuple(sorted(self.env.items())), self.server_args)


BASELINE = "WSGI: gunicorn, DRF view"
VARIANTS = [
    Variant(BASELINE, "gunicorn", "ours", "/ours/me/"),
    Variant("WSGI: gunicorn, DRF view, CLIENT_SIDE_CACHE", "gunicorn", "ours_cached",
            "/ours/me/"),
    Variant("ASGI: uvicorn, DRF view (sync)", "uvicorn", "ours", "/ours/me/"),
    Variant("ASGI: uvicorn, adrf async view", "uvicorn", "ours", "/ours/adrf/me/"),
    Variant("ASGI: uvicorn, django-ninja async, django-redis", "uvicorn", "ours",
            "/ours/ninja/me/"),
    Variant("ASGI: uvicorn, django-ninja async, django-valkey async cache", "uvicorn", "ours",
            "/ours/ninja/me/", {"BENCH_CACHE": "valkey"}),
    Variant("ASGI: uvicorn, django-ninja async, CLIENT_SIDE_CACHE", "uvicorn", "ours_cached",
            "/ours/ninja/me/"),
    Variant("ASGI: uvicorn, adrf async view, CLIENT_SIDE_CACHE", "uvicorn", "ours_cached",
            "/ours/adrf/me/"),
    # uvicorn's own event loop with --workers N: accepted sockets lose TCP_NODELAY
    # (https://github.com/Kludex/uvicorn/issues/3149), so every keep-alive request waits
    # ~40 ms for the client's delayed ACK. uvloop sets TCP_NODELAY itself.
    Variant("ASGI: uvicorn --loop asyncio, django-ninja async, CLIENT_SIDE_CACHE", "uvicorn",
            "ours_cached", "/ours/ninja/me/", args=("--loop", "asyncio", "--http", "h11")),
    Variant("reference: gunicorn, simplejwt JWTAuthentication", "gunicorn", "simplejwt",
            "/simplejwt/me/"),
    Variant("reference: gunicorn, simplejwt JWTStatelessUserAuthentication", "gunicorn",
            "simplejwt", "/simplejwt/stateless-me/"),
    # The peer under the same uvicorn setup (uvloop, httptools, 2 workers), DRF view (sync);
    # its user SELECT through Django's connection pool, as Django advises under ASGI (a
    # persistent connection per request thread runs PostgreSQL out of connections).
    Variant("reference: uvicorn, simplejwt JWTAuthentication", "uvicorn", "simplejwt",
            "/simplejwt/me/", {"BENCH_DB_POOL": "1"}),
    Variant("reference: uvicorn, simplejwt JWTStatelessUserAuthentication", "uvicorn",
            "simplejwt", "/simplejwt/stateless-me/", {"BENCH_DB_POOL": "1"}),
]
# Each variant next to simplejwt's JWTAuthentication in the same server (WSGI or ASGI).
PEER = {"gunicorn": "reference: gunicorn, simplejwt JWTAuthentication",
        "uvicorn": "reference: uvicorn, simplejwt JWTAuthentication"}


def log(message: str) -> None:
    print(f"[asgi {time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="workers per server")
    parser.add_argument("--output-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--prefix", default="asgi", help="output file names")
    return parser.parse_args(argv)


def measure(wrk: str, server: AppServer, redis: RedisServer, variant: Variant, tokens: list[str],
            args: argparse.Namespace) -> dict[str, Any]:
    workers = server.worker_pids()
    before = cpu_seconds(workers), cpu_seconds([redis.process.pid])
    redis.reset_stats()
    result = run_wrk(wrk, server.base_url, "get", tokens, variant.path,
                     duration=args.duration, connections=args.connections, threads=1)
    app, cache = (cpu_seconds(workers) - before[0], cpu_seconds([redis.process.pid]) - before[1])
    errors = result["errors"]
    result["non_2xx"] = (result["requests"] - result["ok"]
                         + sum(errors[kind] for kind in ("connect", "read", "write", "timeout")))
    requests = result["requests"] or 1
    result["cpu_us_per_request"] = {"app": round(app / requests * 1e6),
                                    "redis": round(cache / requests * 1e6)}
    commands = redis.command_stats()
    result["cache_commands"] = commands
    result["cache_commands_per_request"] = round(sum(commands.values()) / requests, 2)
    return result


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    median = sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]
    return {
        "rps": round(statistics.median(run["rps"] for run in runs)),
        "rps_rounds": [round(run["rps"]) for run in runs],
        "p50_ms": round(median["latency_us"]["p50"] / 1000, 2),
        "p99_ms": round(median["latency_us"]["p99"] / 1000, 2),
        "non_2xx": sum(run["non_2xx"] for run in runs),
        "cpu_us_per_request": {
            part: round(statistics.median(run["cpu_us_per_request"][part] for run in runs))
            for part in ("app", "redis")
        },
        "cache_commands_per_request": statistics.median(
            run["cache_commands_per_request"] for run in runs),
    }


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    baseline = result["variants"][BASELINE]
    lines = [
        f"Run on {env['date']} (UTC), {env['cores']} cores, load average "
        f"{env['loadavg_before']:.2f} before / {env['loadavg_after']:.2f} after; "
        f"{env['workers']} workers per server, {env['wrk']} with 1 thread and "
        f"{env['connections']} connections, {env['duration']:g} s rounds, {env['rounds']} per "
        f"variant, in turn (order reversed every other round); median round shown.",
        "",
        f"Command: `{result['command']}` (app at commit {env['commit']})",
        "",
        "| variant | req/s | rounds | p50 / p99 ms | vs WSGI DRF view | vs simplejwt "
        "`JWTAuthentication`, same server | server CPU µs/req (app / redis) | cache cmds/req |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    servers = {variant.label: variant.server for variant in VARIANTS}
    for label, summary in result["variants"].items():
        cpu = summary["cpu_us_per_request"]
        peer = result["variants"].get(PEER.get(servers.get(label, ""), ""))
        vs_peer = f"**{summary['rps'] / peer['rps']:.2f}**" if peer else ""
        lines.append(
            f"| {label} | {summary['rps']} | {' / '.join(map(str, summary['rps_rounds']))} | "
            f"{summary['p50_ms']} / {summary['p99_ms']} | "
            f"**{summary['rps'] / baseline['rps']:.2f}** | {vs_peer} | "
            f"{cpu['app']} / {cpu['redis']} | {summary['cache_commands_per_request']:g} |"
        )
    lines += [
        "",
        "- Every variant checks revocation on every request (simplejwt: a user SELECT instead); "
        "non-2xx answers over the whole run: "
        + ", ".join(f"{label} {s['non_2xx']}" for label, s in result["variants"].items()
                    if s["non_2xx"]) + ("" if any(
                        s["non_2xx"] for s in result["variants"].values()) else "none") + ".",
        "- app CPU is every thread of every worker process (asgiref's thread pool included).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    loadavg_before = os.getloadavg()[0]
    wrk = ensure_wrk()
    for module in ("adrf", "uvloop", "httptools"):
        if importlib.util.find_spec(module) is None:
            raise SystemExit(f"bench/asgi_path.py needs {module}: pip install -e '.[bench]'")
    workdir = Path(tempfile.mkdtemp(prefix="bench-asgi-"))
    runs: dict[str, list[dict[str, Any]]] = {variant.label: [] for variant in VARIANTS}
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        log(f"loadavg {loadavg_before:.2f}; starting redis-server and the database")
        redis, env = backing_services(cleanup, workdir, "postgres")
        import stacks

        users = stacks.create_users(64)
        ours = [pair.access for pair in stacks.ours_pairs(users, 64, device="bench-asgi")]
        simplejwt = [str(token.access_token)
                     for token in stacks.simplejwt_refresh_tokens(users, 64)]

        servers: dict[tuple, AppServer] = {}
        for variant in VARIANTS:
            if variant.server_key not in servers:
                servers[variant.server_key] = AppServer(
                    variant.stack, env, workdir, args.workers, server=variant.server,
                    extra_env=variant.env, name=f"{variant.stack}-{len(servers)}",
                    extra_args=variant.server_args)
        for server in servers.values():
            server.start()
            cleanup.callback(server.stop)
        for server in servers.values():
            server.wait_ready()
        log("servers up; warming up")
        for variant in VARIANTS:
            tokens = simplejwt if variant.stack == "simplejwt" else ours
            run_wrk(wrk, servers[variant.server_key].base_url, "get", tokens, variant.path,
                    duration=1, connections=args.connections, threads=1)
        for index in range(args.rounds):
            for variant in VARIANTS if index % 2 == 0 else VARIANTS[::-1]:
                tokens = simplejwt if variant.stack == "simplejwt" else ours
                result = measure(wrk, servers[variant.server_key], redis, variant, tokens, args)
                runs[variant.label].append(result)
                log(f"  {variant.label:62s} {result['rps']:7.0f} req/s  non-2xx "
                    f"{result['non_2xx']}  CPU µs/req {result['cpu_us_per_request']['app']}")

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH_DIR,
                            capture_output=True, text=True).stdout.strip()
    result = {
        "command": "python " + shlex.join(["bench/asgi_path.py", *(argv or sys.argv[1:])]),
        "variants": {label: summarize(variant_runs) for label, variant_runs in runs.items()},
        "runs": runs,
        "environment": {
            "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "cores": os.cpu_count(),
            "loadavg_before": loadavg_before,
            "loadavg_after": os.getloadavg()[0],
            "workers": args.workers,
            "connections": args.connections,
            "sessions": len(ours),
            "duration": args.duration,
            "rounds": args.rounds,
            "wrk": wrk_version(wrk).split(" [")[0],
            "commit": commit,
        },
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / f"{args.prefix}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.output_dir / f"{args.prefix}.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
