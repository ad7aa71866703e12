#!/usr/bin/env python
"""Profile one benchmark operation in-process with pyinstrument (pip install pyinstrument).

    python bench/profile_request.py sliding    # GET with a token inside the sliding window
    python bench/profile_request.py refresh --requests 2000
    python bench/profile_request.py login --stack simplejwt

Same project, settings, private redis-server and PostgreSQL database as ``bench/run.py``; the
requests go through Django's full handler (middleware, DRF view) with the test client, one at a
time, so the profile shows where a request's own CPU time goes. It prints the mean time per
request and pyinstrument's call tree.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from infra import Database, RedisServer

KINDS = ("get", "sliding", "refresh", "login")


def requests_for(kind: str, stack: str, count: int, users: list) -> Callable[[], None]:
    """A callable sending ``count`` requests of ``kind``; fixtures are made beforehand."""
    import stacks
    from django.test import Client

    client = Client()
    prefix = "/simplejwt" if stack.startswith("simplejwt") else "/ours"
    me = "stateless-me" if stack == "simplejwt_stateless" else "me"
    if stack.startswith("simplejwt"):
        refresh_tokens = stacks.simplejwt_refresh_tokens(users, 1)
        access = [str(refresh_tokens[0].access_token)] * count
        first_refresh = str(refresh_tokens[0])
    else:
        pairs = stacks.ours_pairs(users, len(users), device="profile")
        if kind == "sliding":
            access = stacks.sliding_tokens(pairs, count, remaining_seconds=240)
        else:
            access = [pairs[i % len(pairs)].access for i in range(count)]
        first_refresh = pairs[0].refresh

    def check(response) -> None:
        assert response.status_code == 200, response.content

    def gets() -> None:
        for token in access:
            check(client.get(f"{prefix}/{me}/", HTTP_AUTHORIZATION=f"Bearer {token}"))

    def refreshes() -> None:
        token = first_refresh
        path = "/simplejwt/token/refresh/" if prefix == "/simplejwt" else "/ours/auth/refresh/"
        for _ in range(count):
            response = client.post(path, {"refresh": token}, content_type="application/json")
            check(response)
            token = response.json()["refresh"]

    def logins() -> None:
        path = "/simplejwt/token/" if prefix == "/simplejwt" else "/ours/auth/login/"
        for i in range(count):
            body = {"username": users[i % len(users)].username, "password": stacks.PASSWORD}
            check(client.post(path, body, content_type="application/json"))

    return {"get": gets, "sliding": gets, "refresh": refreshes, "login": logins}[kind]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument(
        "--stack",
        choices=("ours", "ours_stateless", "ours_cached", "simplejwt", "simplejwt_stateless"),
        default="ours",
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--no-profile", action="store_true", help="only time the requests")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        redis_server = RedisServer(workdir)
        cleanup.callback(redis_server.stop)
        database = Database(args.database, workdir)
        cleanup.callback(database.drop)
        os.environ.update(
            BENCH_REDIS_URL=redis_server.url,
            BENCH_STACK=args.stack.removesuffix("_stateless")
            if args.stack == "simplejwt_stateless" else args.stack,
            DJANGO_SETTINGS_MODULE="benchproject.settings",
            **database.env(),
        )
        import django
        from django.core.management import call_command
        from django.db import connections

        django.setup()
        cleanup.callback(connections.close_all)
        call_command("migrate", verbosity=0)

        import stacks

        users = stacks.create_users(64)
        requests_for(args.kind, args.stack, 50, users)()  # warm: imports, connections
        run = requests_for(args.kind, args.stack, args.requests, users)
        if args.no_profile:
            started, cpu_started = time.perf_counter(), time.process_time()
            run()
            elapsed = time.perf_counter() - started
            # CPU time of this process only: less disturbed by whatever else the machine runs.
            cpu = time.process_time() - cpu_started
            print(f"CPU: {cpu / args.requests * 1e6:.0f} µs per request in this process")
        else:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            started = time.perf_counter()
            with profiler:
                run()
            elapsed = time.perf_counter() - started
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        print(
            f"{args.kind} ({args.stack}): {args.requests} requests, "
            f"{elapsed / args.requests * 1e6:.0f} µs per request"
            + ("" if args.no_profile else " (under the profiler)")
        )


if __name__ == "__main__":
    main()
