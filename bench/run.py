#!/usr/bin/env python
"""django-doubletoken vs djangorestframework-simplejwt, measured in one run on one machine.

    python bench/run.py                     # the full run (about 4 minutes on 2 cores)
    python bench/run.py --duration 1 --rounds 1 --quick --output-dir /tmp/x   # smoke

What it does, all on 127.0.0.1 and all torn down at the end:

1. starts a private redis-server on a free port (INFO commandstats and MEMORY USAGE then
   count only this run's traffic) and creates a PostgreSQL database of its own;
2. migrates the bench project (bench/benchproject: both packages installed) and creates users;
3. serves it with three gunicorns (2 sync workers each): "ours" (DoubleTokenAuthentication +
   SlidingTokenMiddleware), "ours_stateless" (the same with REVOCATION_CHECK = False) and
   "simplejwt" (JWTAuthentication, ROTATE_REFRESH_TOKENS + BLACKLIST_AFTER_ROTATION);
4. drives each scenario with wrk (bench/lua/bench.lua) in alternating rounds, ours and
   simplejwt taking turns (A B B A ...) so both see the same machine load;
5. measures, without load: Redis commands and bytes per operation, database statements per
   operation, per-call micro benchmarks, Redis memory and database rows;
6. writes results.json and results.md to --output-dir (default bench/results/).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

from infra import (
    BENCH_DIR,
    AppServer,
    RedisServer,
    backing_services,
    cpu_seconds,
    ensure_wrk,
    run_wrk,
    wrk_version,
)

STACKS = ("ours", "ours_stateless", "ours_cached", "simplejwt")
SCENARIOS = ("get", "get_stateless", "get_cached", "refresh", "sliding", "login", "dpop")
# Load labels served by another stack's gunicorn.
SERVED_BY = {"simplejwt_stateless": "simplejwt"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8, help="seconds per measured round")
    parser.add_argument(
        "--rounds", type=int, default=2, help="measured rounds per stack and scenario"
    )
    parser.add_argument("--connections", type=int, default=4, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per stack")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--quick", action="store_true", help="small fixtures and short micro benchmarks"
    )
    parser.add_argument(
        "--purge-rows", type=int, default=None,
        help="sessions generated for the purge measurement (PostgreSQL only; default "
        "2,000,000, 20,000 with --quick; 0 skips it)",
    )
    parser.add_argument("--output-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument(
        "--only",
        type=lambda value: value.split(","),
        metavar="NAME[,NAME]",
        help=f"run only these load scenarios ({', '.join(SCENARIOS)}, purge) and skip the "
        "measurements without load: for before/after comparisons of a change",
    )
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Benchmark:
    """The load scenarios, run against already started servers."""

    def __init__(
        self,
        args: argparse.Namespace,
        wrk: str,
        redis_server: RedisServer,
        servers: dict[str, AppServer],
    ) -> None:
        import stacks

        self.args = args
        self.wrk = wrk
        self.redis = redis_server
        self.servers = servers
        self.quick = args.quick
        self.pool = 16 if self.quick else 64  # refresh chains, sessions per round
        self.users = stacks.create_users(64)
        self.usernames = [user.username for user in self.users]
        # Scenario 1, 2 and 4's tokens: one session (ours) / one token pair (simplejwt) per user.
        self.ours_pairs = stacks.ours_pairs(self.users, len(self.users), device="bench-get")
        self.ours_access = [pair.access for pair in self.ours_pairs]
        self.simplejwt_access = [
            str(token.access_token) for token in stacks.simplejwt_refresh_tokens(self.users, 64)
        ]
        self.rows_added = {"ours": [0, 0, 0], "simplejwt": [0, 0, 0]}  # rows, bytes, refreshes

    # --- one wrk run ---------------------------------------------------------------------

    def processes(self, stack: str) -> dict[str, list[int]]:
        """The processes that serve a request of ``stack``, for CPU accounting."""
        from django.db import connection

        backends: list[int] = []
        if connection.vendor == "postgresql":  # SQLite runs inside the workers
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
                backends = [row[0] for row in cursor.fetchall()]
        return {
            "app": self.servers[SERVED_BY.get(stack, stack)].worker_pids(),
            "redis": [self.redis.process.pid],
            "database": backends,
        }

    def load(self, stack: str, mode: str, items: list[str], path: str) -> dict[str, Any]:
        server = self.servers[SERVED_BY.get(stack, stack)]
        self.redis.reset_stats()
        # Database backends are sampled after the run too: persistent connections opened
        # during it (a worker's first query) count from their start.
        before = {part: cpu_seconds(pids) for part, pids in self.processes(stack).items()}
        result = run_wrk(
            self.wrk,
            server.base_url,
            mode,
            items,
            path,
            duration=self.args.duration,
            connections=self.args.connections,
            threads=self.args.threads,
        )
        after_pids = self.processes(stack)
        result["cpu_us_per_request"] = {
            part: round((cpu_seconds(pids) - before.get(part, 0)) / result["requests"] * 1e6)
            if result["requests"]
            else 0
            for part, pids in after_pids.items()
        }
        result["cpu_us_per_request"]["total"] = sum(result["cpu_us_per_request"].values())
        commands = self.redis.command_stats()
        result["cache_commands"] = sum(commands.values())
        result["cache_command_breakdown"] = commands
        result["stack"] = stack
        return result

    def alternate(self, *runners: tuple[str, Callable[[], dict]]) -> dict[str, list[dict]]:
        """Rounds in the order A B, B A, A B ... (A B C, C B A, ...): each side runs first
        as often as last, so a drift in machine load hits all of them alike."""
        runs: dict[str, list[dict]] = {label: [] for label, _ in runners}
        for index in range(self.args.rounds):
            for label, runner in runners if index % 2 == 0 else runners[::-1]:
                result = runner()
                runs[label].append(result)
                log(
                    f"  {label:<28} {result['rps']:8.0f} req/s  p50 "
                    f"{result['latency_us']['p50'] / 1000:6.2f} ms  p99 "
                    f"{result['latency_us']['p99'] / 1000:6.2f} ms  non-2xx "
                    f"{result['errors']['status']}  cache cmds/req "
                    f"{result['cache_commands'] / max(1, result['requests']):.2f}  CPU µs/req "
                    f"{result['cpu_us_per_request']['total']}"
                )
        return runs

    # --- scenario runners ----------------------------------------------------------------

    def get(self, stack: str) -> Callable[[], dict]:
        if stack == "simplejwt":
            return lambda: self.load(stack, "get", self.simplejwt_access, "/simplejwt/me/")
        if stack == "simplejwt_stateless":
            return lambda: self.load(
                stack, "get", self.simplejwt_access, "/simplejwt/stateless-me/"
            )
        return lambda: self.load(stack, "get", self.ours_access, "/ours/me/")

    def sliding(self, expected_rps: float, repeats: int) -> Callable[[], dict]:
        """GETs whose tokens are inside the sliding window, each distinct token sent
        ``repeats`` times in a row: the first is re-issued, the others (within the grace
        window) are answered with the successor already stored for it."""
        import stacks

        def run() -> dict:
            # Enough tokens that the list should not wrap around during the round, even when
            # the GET round that sized it ran slower (a load spike); a token sent again after
            # the list ran out is counted ("repeated") and left out of the re-issue share.
            needed = int(expected_rps * max(1, round(self.args.duration)) * 3) + 2000
            distinct = needed // repeats + 1
            tokens = stacks.sliding_tokens(self.ours_pairs, distinct, remaining_seconds=240)
            items = [token for token in tokens for _ in range(repeats)]
            result = self.load("ours", "get", items, "/ours/me/")
            result["distinct_tokens"] = distinct
            # Each re-issue stores its successor with one SET NX (cache.add).
            result["reissued"] = result["cache_command_breakdown"].get("set", 0)
            return result

        return run

    def refresh(self, stack: str) -> Callable[[], dict]:
        import stacks

        def run() -> dict:
            if stack == "simplejwt":
                tokens = [str(t) for t in stacks.simplejwt_refresh_tokens(self.users, self.pool)]
                path = "/simplejwt/token/refresh/"
            else:
                pairs = stacks.ours_pairs(self.users, self.pool, device="bench-refresh")
                tokens = [pair.refresh for pair in pairs]
                path = "/ours/auth/refresh/"
            rows_before, bytes_before = stacks.row_counts(), stacks.table_bytes()
            result = self.load(stack, "refresh", tokens, path)
            rows_after, bytes_after = stacks.row_counts(), stacks.table_bytes()
            added = self.rows_added[stack]
            added[0] += sum(rows_after.values()) - sum(rows_before.values())
            added[1] += sum(bytes_after.values()) - sum(bytes_before.values())
            added[2] += result["ok"]
            if stack == "simplejwt":
                # One BlacklistedToken per rotation.
                key = "token_blacklist_blacklistedtoken"
                result["rotations_in_db"] = rows_after[key] - rows_before[key]
            else:
                result["rotations_in_db"] = stacks.rotations([p.session_id for p in pairs])
            return result

        return run

    def login(self, stack: str) -> Callable[[], dict]:
        path = "/simplejwt/token/" if stack == "simplejwt" else "/ours/auth/login/"
        return lambda: self.load(stack, "login", self.usernames, path)

    def dpop_get(self, expected_rps: float) -> Callable[[], dict]:
        """GETs of DPoP-bound sessions (ES256 keys), each with a fresh proof: the proof's
        checks, its key from the thumbprint cache, and its replay record in the request's
        one round trip. Proofs are made just before the round (their iat must be recent)."""
        import stacks

        path = "/ours/me/"
        if not hasattr(self, "dpop_sessions"):
            self.dpop_sessions = stacks.dpop_sessions(self.users, len(self.users))

        def run() -> dict:
            needed = int(expected_rps * max(1, round(self.args.duration)) * 1.5) + 500
            url = self.servers["ours"].base_url + path
            items = stacks.dpop_items(self.dpop_sessions, needed, url)
            result = self.load("ours", "dpop", items, path)
            result["proofs_prepared"] = needed
            return result

        return run

    # --- everything ----------------------------------------------------------------------

    def warm_up(self) -> None:
        """Load every code path once in every worker, outside the measurements."""
        import requests
        import stacks

        saved = self.args.duration
        self.args.duration = 1
        try:
            for stack in (*STACKS, "simplejwt_stateless"):
                self.get(stack)()
            self.login("ours")()
            self.login("simplejwt")()
            if self._wanted("dpop"):  # every worker imports the sessions' keys once
                self.dpop_get(3000.0)()
        finally:
            self.args.duration = saved
        for stack, server in self.servers.items():
            if stack == "simplejwt":
                token = str(stacks.simplejwt_refresh_tokens(self.users, 1)[0])
                path = "/simplejwt/token/refresh/"
            else:
                token = stacks.ours_pairs(self.users, 1, device="bench-warm")[0].refresh
                path = "/ours/auth/refresh/"
            requests.post(f"{server.base_url}{path}", json={"refresh": token}, timeout=10)

    def _scenario(self, results: list[dict[str, Any]], name: str, title: str, a: tuple,
                  b: tuple, runs=None) -> dict[str, Any]:
        """Runs (unless given) and summarises one scenario into ``results``."""
        from report import TARGETS, compare

        if runs is None:
            log(f"scenario {name}: {title}")
            runs = self.alternate(a, b)
        summary = compare(name, title, a[0], b[0], runs)
        if name in TARGETS:
            text, check = TARGETS[name]
            summary["target"] = {"text": text, "met": check(summary)}
        results.append(summary)
        return summary

    def _wanted(self, name: str) -> bool:
        return not self.args.only or name in self.args.only

    def scenarios(self) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        scenario = functools.partial(self._scenario, results)
        wanted = self._wanted

        if wanted("get") or wanted("sliding"):  # 4 sizes its token lists on 1's rate
            first = scenario(
                "get",
                "1. GET, ours (revocation check) vs simplejwt",
                ("ours", self.get("ours")),
                ("simplejwt", self.get("simplejwt")),
            )
        if wanted("get_stateless"):
            scenario(
                "get_stateless",
                "2. GET, verify only: ours stateless vs simplejwt stateless",
                ("ours_stateless", self.get("ours_stateless")),
                ("simplejwt_stateless", self.get("simplejwt_stateless")),
            )
        if wanted("get_cached"):
            scenario(
                "get_cached",
                "2b. GET, ours revocation-checked with CLIENT_SIDE_CACHE vs simplejwt stateless",
                ("ours_cached", self.get("ours_cached")),
                ("simplejwt_stateless", self.get("simplejwt_stateless")),
            )
        if wanted("refresh"):
            scenario(
                "refresh",
                "3. refresh with rotation",
                ("ours", self.refresh("ours")),
                ("simplejwt", self.refresh("simplejwt")),
            )
        if wanted("sliding"):
            log("scenario sliding: 4. GET inside the sliding window vs outside (ours only)")
            inside = ("ours_inside_window", self.sliding(first["ours"]["rps"], repeats=1))
            reused = ("ours_inside_window_10x", self.sliding(first["ours"]["rps"], repeats=10))
            outside = ("ours_outside_window", self.get("ours"))
            runs = self.alternate(inside, reused, outside)
            scenario(
                "sliding",
                "4a. GET inside the sliding window, every request re-issues (vs outside)",
                inside,
                outside,
                {key: runs[key] for key in (inside[0], outside[0])},
            )
            scenario(
                "sliding_10x",
                "4b. GET inside the window, each token 10 times (vs outside)",
                reused,
                outside,
                {key: runs[key] for key in (reused[0], outside[0])},
            )
        if wanted("dpop"):
            # The bearer GET's rate sizes the proof lists (a proof is used once).
            rate = first["ours"]["rps"] if wanted("get") else 3000.0
            scenario(
                "dpop",
                "6. GET, ours DPoP-verified (ES256 proof, replay record) vs ours bearer "
                "(revocation check), same server",
                ("ours_dpop", self.dpop_get(rate)),
                ("ours_bearer", self.get("ours")),
            )
        if wanted("login"):
            # "ours" runs with its login throttle on, as a project does; "ours_stateless"
            # (whose settings differ only in what requests check, not in login) with it off.
            log("scenario login: 5. login (MD5 hasher), the throttle on and off")
            throttled = ("ours", self.login("ours"))
            unthrottled = ("ours_no_throttle", self.login("ours_stateless"))
            peer = ("simplejwt", self.login("simplejwt"))
            runs = self.alternate(throttled, unthrottled, peer)
            scenario(
                "login",
                "5. login (MD5 hasher), login throttle on (1000/min per address)",
                throttled,
                peer,
                {key: runs[key] for key in (throttled[0], peer[0])},
            )
            scenario(
                "login_no_throttle",
                "5b. login (MD5 hasher), login throttle off",
                unthrottled,
                peer,
                {key: runs[key] for key in (unthrottled[0], peer[0])},
            )
        return results

    def storage_rows(self) -> dict[str, Any]:
        rows = {}
        for stack, (added, grown, refreshes) in self.rows_added.items():
            per = 10_000 / refreshes if refreshes else 0.0
            rows[stack] = {
                "refreshes": refreshes,
                "rows_added": added,
                "table_bytes_added": grown,
                "rows_per_10k": round(added * per, 1),
                "bytes_per_10k": round(grown * per),
            }
        return rows

    def unloaded(self) -> dict[str, Any]:
        """Accounting, micro benchmarks and storage, with no load running."""
        import measure
        import stacks

        count = 20 if self.quick else 200
        log("accounting: Redis commands and bytes per operation")
        sliding = stacks.sliding_tokens(self.ours_pairs, count, remaining_seconds=240)
        fresh = stacks.ours_pairs(self.users, 2 * count, device="bench-accounting")
        accounting = measure.accounting(
            self.servers["ours"].base_url,
            self.redis,
            access_tokens=[self.ours_access[i % len(self.ours_access)] for i in range(count)],
            sliding=sliding,
            refresh_tokens=[pair.refresh for pair in fresh[:count]],
            usernames=[self.usernames[i % len(self.usernames)] for i in range(count)],
            stale_sessions=[(pair.session_id, pair.access) for pair in fresh[count:]],
        )
        log("database statements per operation")
        queries = measure.db_queries_per_operation(self.users)
        log("micro benchmarks")
        micro = measure.micro(
            self.ours_access[0], self.simplejwt_access[0], self.redis, self.quick
        )
        log("storage")
        from django_doubletoken import tokens

        slid = [(claims.sid, claims.jti) for claims in map(tokens.decode_access, sliding)]
        storage = {
            "redis": measure.redis_storage(
                self.redis, self.users, 20 if self.quick else 1000, slid
            ),
            "database": self.storage_rows(),
            "last_used_writes": measure.last_used_writes(
                self.ours_access[1], 1.5 if self.quick else 3.5
            ),
        }
        return {"accounting": accounting, "db_queries": queries, "micro": micro,
                "storage": storage}

    def purge(self) -> dict[str, Any]:
        """Last, since it fills and empties the database: purging 2 M rows (bench/purge.py)."""
        import purge

        rows = self.args.purge_rows
        if rows is None:
            rows = 20_000 if self.quick else 2_000_000
        log(f"purge: generating {rows} sessions")
        table = purge.populate(rows, users=1000 if self.quick else purge.PURGE_USERS)
        reads = purge.read_queries()
        log(f"purge: device list {reads['device_list_ms']} ms, changelist page "
            f"{reads['changelist_page_ms']} ms; purging while login is under load")
        run = purge.purge(lambda: self.load("ours", "login", self.usernames, "/ours/auth/login/"))
        log(f"purge: {run['deleted']} rows in {run['total_seconds']} s, first 10 batches "
            f"{run['first_10_batches_ms']} ms, last 10 {run['last_10_batches_ms']} ms; login p99 "
            f"{run['login_baseline']['p99_ms']} ms before, {run['login_during_purge']['p99_ms']} "
            "ms during")
        return {"table": table, "reads": reads, "purge": run}


def notes(result: dict[str, Any]) -> list[str]:
    """What a reader needs to read the table right, with this run's numbers."""
    by_name = {s["name"]: s for s in result["scenarios"]}

    def reissues(label: str, name: str) -> str:
        rounds = by_name[name]["rounds"][label]
        answered = sum(r["requests"] - r.get("repeated", 0) for r in rounds)
        reissued = sum(r["reissued"] for r in rounds)
        share = 100 * reissued / max(1, answered)
        repeats = sum(r.get("repeated", 0) for r in rounds)
        wrapped = f", {repeats} more after the token list ran out" if repeats else ""
        return f"{reissued} SET NX for {answered} answers ({share:.1f} %){wrapped}"

    notes = []
    if "get" in by_name:
        notes.append(
            "simplejwt's JWTAuthentication SELECTs the user on every request; ours answers "
            "request.user.pk from the token (the view returns only the pk) and checks "
            "revocation in Redis instead."
        )
    if "accounting" in result:
        outside = result["accounting"]["get_outside_window"]["commands_per_request"]
        notes.append(
            f"Cache round trips per authenticated request outside the sliding window: "
            f"{outside:g} (one MGET), counted with INFO commandstats on the bench's own "
            f"redis-server (target <= 1: {'met' if outside <= 1 else 'MISSED'})."
        )
    if "refresh" in by_name:
        refresh = by_name["refresh"]["rounds"]
        notes.append(
            f"Scenario 3: every request carried a current-generation refresh token (each wrk "
            f"connection chains the token it got back); rotations verified in the database: "
            f"ours {sum(r['rotations_in_db'] for r in refresh['ours'])} for "
            f"{sum(r['ok'] for r in refresh['ours'])} answers 200, simplejwt "
            f"{sum(r['rotations_in_db'] for r in refresh['simplejwt'])} blacklisted for "
            f"{sum(r['ok'] for r in refresh['simplejwt'])} (a rotation whose answer was still "
            "in flight when wrk stopped is counted in the database only)."
        )
    if "sliding" in by_name:
        notes.append(
            f"Scenario 4: tokens with 4 min left (threshold 5 min). 4a: each request a "
            f"distinct token, {reissues('ours_inside_window', 'sliding')}; 4b: each token "
            f"sent 10 times in a row, {reissues('ours_inside_window_10x', 'sliding_10x')}, "
            "the others answered with the stored successor. The SET NX that stores a "
            "successor is pipelined with the request's MGET (one round trip): a request whose "
            "token already has one sends it too, refused, so in 4b it is not the count of "
            "successors; requests in flight when wrk stopped are counted in Redis only."
        )
    if "login" in by_name:
        notes.append(
            "Scenario 5: ours with its login throttle on (LOGIN_THROTTLE_RATE = 1000/min per "
            "client address; each bench user logs in from an address of its own, sent in "
            "X-Forwarded-For, the bench's CLIENT_IP_HEADER, so nothing is refused), 5b with it "
            "off; ours also updates auth_user.last_login (Django's user_logged_in receiver), "
            "simplejwt does not by default and has no throttle on its view."
        )
    notes.append(
        "Persistent database connections (CONN_MAX_AGE = 600) for both; JSON renderer and "
        "parser only for both."
    )
    return notes


def environment(args: argparse.Namespace, wrk: str, redis_version: str) -> dict[str, Any]:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]}"
    else:
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version}"

    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=BENCH_DIR, capture_output=True, text=True)
        return done.stdout.strip()

    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        # The app measured is the working tree's: its commit, and whether it had changes.
        "app_commit": git("rev-parse", "--short", "HEAD"),
        "app_tree_changed": any(
            line.endswith(".py")
            for line in git("status", "--porcelain", "--", "../django_doubletoken").splitlines()
        ),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {
            name: version(name)
            for name in (
                "Django", "djangorestframework", "PyJWT", "django-redis", "redis",
                "djangorestframework-simplejwt", "gunicorn", "django-doubletoken",
            )
        },
        "database": database,
        "redis_version": redis_version,
        "gunicorn_workers": args.workers,
        "gunicorn_worker_class": args.worker_class,
        "load_generator": wrk_version(wrk).split(" [")[0],
        "wrk_threads": args.threads,
        "wrk_connections": args.connections,
        "round_seconds": args.duration,
        "rounds": args.rounds,
        "command": "python " + shlex.join(["bench/run.py", *sys.argv[1:]]),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    # A SIGTERM (a CI timeout, say) still runs the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    loadavg_before = os.getloadavg()
    wrk = ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="bench-doubletoken-"))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        log(f"loadavg {loadavg_before[0]:.2f}; starting redis-server and the database")
        redis_server, env = backing_services(cleanup, workdir, args.database)

        servers = {
            stack: AppServer(stack, env, workdir, args.workers, args.worker_class)
            for stack in STACKS
        }
        for server in servers.values():
            server.start()
            cleanup.callback(server.stop)
        for server in servers.values():
            server.wait_ready()
        log(f"servers up: {', '.join(f'{s} :{g.port}' for s, g in servers.items())}")

        bench = Benchmark(args, wrk, redis_server, servers)
        log("warming up")
        bench.warm_up()
        result: dict[str, Any] = {"scenarios": bench.scenarios()}
        if not args.only:
            result.update(bench.unloaded())
        wants_purge = args.database == "postgres" and args.purge_rows != 0
        if wants_purge and (not args.only or "purge" in args.only):
            result["purge"] = bench.purge()
        result["environment"] = environment(args, wrk, redis_server.version)

    result["environment"]["loadavg_before"] = list(loadavg_before)
    result["environment"]["loadavg_after"] = list(os.getloadavg())
    result["environment"]["wall_seconds"] = round(time.monotonic() - started, 1)
    result["notes"] = notes(result)
    result["targets"] = {
        s["name"]: s["target"] for s in result["scenarios"] if "target" in s
    }
    if "purge" in result:
        result["targets"]["purge_linear"] = {
            "text": "the last 10 purge batches within 2x of the first 10",
            "met": result["purge"]["purge"]["last_over_first"] <= 2,
        }
    if "accounting" in result:
        result["targets"]["one_cache_round_trip_outside_window"] = {
            "text": "<= 1 cache command per request outside the sliding window",
            "met": result["accounting"]["get_outside_window"]["commands_per_request"] <= 1,
        }
    from report import markdown

    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.output_dir / "results.md").write_text(markdown(result))
    log(f"done in {result['environment']['wall_seconds']} s: {args.output_dir}/results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
