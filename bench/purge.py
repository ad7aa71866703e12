"""Purging at scale, on the bench's PostgreSQL database (called by bench/run.py).

The table is filled with SQL ``generate_series`` (fast: no Python per row) to the shape of
issue 29's measurement: ``rows`` sessions of 10,000 users, half of them expired 30 days ago,
a tenth revoked 60 days ago, the rest live. Then, in this order:

1. the device list and the admin changelist queries at that size (median of 5 runs each);
2. login under wrk with nothing else running (the baseline p99);
3. ``purge_device_sessions``' own loop (``services.purge_sessions``, batches of 1000) in a
   thread, timed batch by batch, while wrk drives login again: the first and the last 10
   batches compared, the total time, rows/s, and login's p99 while it runs.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

PURGE_USERS = 10_000


def populate(rows: int, users: int = PURGE_USERS) -> dict[str, int]:
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from django_doubletoken.models import DeviceSession

    table = DeviceSession._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) "
            "SELECT %s, false, 'purge-user-' || n, '', '', '', false, true, now() "
            "FROM generate_series(1, %s) AS n",
            [make_password(None), users],
        )
        # n % 10: 0-4 expired 30 days ago (+ up to a day), 5 revoked 60 days ago, 6-9 live.
        cursor.execute(
            f"""
            WITH owners AS (
                SELECT array_agg(id ORDER BY id) AS ids FROM auth_user
                WHERE username LIKE 'purge-user-%%'
            )
            INSERT INTO {table} (id, user_id, client, device, user_agent, ip, created_at,
                last_used_at, refresh_generation, refresh_expires_at, absolute_expires_at,
                revoked_at, revoke_reason)
            SELECT gen_random_uuid(), owners.ids[1 + n %% %s], 'web', 'bench device',
                'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) '
                    'Chrome/131.0 Safari/537.36',
                '203.0.113.7',
                now() - interval '90 days' + (n %% 7776000) * interval '1 second',
                now() - interval '1 hour', n %% 5,
                CASE WHEN n %% 10 < 5
                     THEN now() - interval '30 days' - (n %% 86400) * interval '1 second'
                     WHEN n %% 10 = 5 THEN now() - interval '50 days'
                     ELSE now() + interval '1 day' END,
                now() + interval '30 days',
                CASE WHEN n %% 10 = 5
                     THEN now() - interval '60 days' - (n %% 86400) * interval '1 second' END,
                CASE WHEN n %% 10 = 5 THEN 'logout' ELSE '' END
            FROM owners, generate_series(1, %s) AS n
            """,
            [users, rows],
        )
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("SELECT pg_total_relation_size(%s), pg_indexes_size(%s)", [table, table])
        total, indexes = cursor.fetchone()
    return {"rows": rows, "users": users, "table_bytes": total, "index_bytes": indexes}


def _median_ms(run: Callable[[], Any], times: int = 5) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 2)


def read_queries() -> dict[str, float]:
    """The device list of a user with ~200 sessions, and the admin changelist's first page and
    COUNT as it queries them (the bench project has no admin installed; tests/test_purge.py
    checks the real changelist's plan)."""
    from django.contrib.auth import get_user_model

    from django_doubletoken.models import DeviceSession

    owner = get_user_model().objects.filter(username="purge-user-1").get()
    # ModelAdmin ordering (Meta.ordering) made total with -pk, users joined for the column.
    changelist = DeviceSession.objects.select_related("user").order_by("-created_at", "-pk")
    return {
        "device_list_ms": _median_ms(
            lambda: list(DeviceSession.objects.active().filter(user_id=owner.pk))),
        "changelist_page_ms": _median_ms(lambda: list(changelist[:100])),
        "changelist_count_ms": _median_ms(changelist.count),
    }


def purge(login_load: Callable[[], dict], batch_size: int = 1000) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from django_doubletoken import services

    baseline = login_load()
    batches: list[tuple[int, float]] = []
    vacuuming: list[bool] = []  # per batch: was a VACUUM of the table running after it
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            now = timezone.now()  # the command's defaults: 7 and 30 days
            purging = services.purge_sessions(
                expired_before=now - timedelta(days=7), revoked_before=now - timedelta(days=30),
                batch_size=batch_size)
            while True:
                started = time.perf_counter()
                deleted = next(purging, None)
                if deleted is None:
                    break
                batches.append((deleted, time.perf_counter() - started))
                vacuuming.append(_vacuum_running())
        except BaseException as exc:  # reported by the caller
            failure.append(exc)
        finally:
            connection.close()
            done.set()

    started = time.perf_counter()
    worker = threading.Thread(target=run, name="purge")
    worker.start()
    during = login_load()
    login_ended = time.perf_counter() - started
    worker.join()
    total = time.perf_counter() - started
    if failure:
        raise failure[0]
    deleted = sum(count for count, _ in batches)
    first = [seconds for _, seconds in batches[:10]]
    last = [seconds for _, seconds in batches[-10:]]
    return {
        "batch_size": batch_size,
        "batches": len(batches),
        "deleted": deleted,
        "total_seconds": round(total, 1),
        "rows_per_second": round(deleted / total) if total else 0,
        "first_10_batches_ms": round(statistics.mean(first) * 1000, 1) if first else 0,
        "last_10_batches_ms": round(statistics.mean(last) * 1000, 1) if last else 0,
        "last_over_first": round(statistics.mean(last) / statistics.mean(first), 2)
        if first else 0,
        "first_10_batches_median_ms": round(statistics.median(first) * 1000, 1) if first else 0,
        "last_10_batches_median_ms": round(statistics.median(last) * 1000, 1) if last else 0,
        "batch_ms": [round(s * 1000, 1) for _, s in batches],
        "batch_vacuum_running": vacuuming,
        **_vacuum_split(batches, vacuuming),
        "batch_ms_every_tenth": [round(s * 1000, 1) for _, s in batches[:: max(1, len(batches)
                                                                              // 10)]],
        "login_while_purging_whole_round": login_ended <= total,
        "login_baseline": _login_summary(baseline),
        "login_during_purge": _login_summary(during),
    }


def _vacuum_running() -> bool:
    """Whether a VACUUM (autovacuum's, usually) of the sessions table is in progress."""
    from django.db import connection

    from django_doubletoken.models import DeviceSession

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_progress_vacuum WHERE relid = %s::regclass",
                       [DeviceSession._meta.db_table])
        return bool(cursor.fetchone()[0])


def _vacuum_split(batches: list[tuple[int, float]], vacuuming: list[bool]) -> dict[str, Any]:
    """Batch times apart by whether autovacuum was working on the table meanwhile: on two
    cores it competes with the purge, and it starts as the dead rows pass its threshold."""
    during = [s for (_, s), v in zip(batches, vacuuming, strict=True) if v]
    apart = [s for (_, s), v in zip(batches, vacuuming, strict=True) if not v]

    def mean_ms(values: list[float]) -> float:
        return round(statistics.mean(values) * 1000, 1) if values else 0

    return {
        "batches_during_vacuum": len(during),
        "batch_ms_mean_during_vacuum": mean_ms(during),
        "batch_ms_mean_without_vacuum": mean_ms(apart),
        "first_10_without_vacuum_ms": mean_ms(apart[:10]),
        "last_10_without_vacuum_ms": mean_ms(apart[-10:]),
    }


def _login_summary(result: dict) -> dict[str, Any]:
    return {
        "rps": round(result["rps"]),
        "p50_ms": round(result["latency_us"]["p50"] / 1000, 2),
        "p99_ms": round(result["latency_us"]["p99"] / 1000, 2),
        "non_2xx": result["errors"]["status"],
    }


def markdown(result: dict[str, Any]) -> list[str]:
    setup, reads, run = result["table"], result["reads"], result["purge"]
    return [
        f"Purge at scale (PostgreSQL; {setup['rows']:,} sessions of {setup['users']:,} users "
        f"generated with generate_series, {setup['table_bytes'] / 2**20:.0f} MB with "
        f"{setup['index_bytes'] / 2**20:.0f} MB of indexes; `purge_device_sessions` defaults, "
        f"batches of {run['batch_size']}):",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| rows deleted | {run['deleted']:,} in {run['batches']} batches |",
        f"| total time | {run['total_seconds']} s ({run['rows_per_second']:,} rows/s) |",
        f"| mean of the first 10 batches | {run['first_10_batches_ms']} ms |",
        f"| mean of the last 10 batches | {run['last_10_batches_ms']} ms "
        f"(**{run['last_over_first']}×** the first) |",
        f"| login p50 / p99, nothing else running | {run['login_baseline']['p50_ms']} / "
        f"{run['login_baseline']['p99_ms']} ms ({run['login_baseline']['rps']} req/s) |",
        f"| login p50 / p99 while the purge runs | {run['login_during_purge']['p50_ms']} / "
        f"{run['login_during_purge']['p99_ms']} ms ({run['login_during_purge']['rps']} req/s) |",
        f"| device list of a user (~{setup['rows'] // setup['users']} sessions), before the "
        f"purge | {reads['device_list_ms']} ms |",
        f"| admin changelist, first page (100 rows) / its COUNT | "
        f"{reads['changelist_page_ms']} / {reads['changelist_count_ms']} ms |",
        "",
        f"Autovacuum worked on the table during {run.get('batches_during_vacuum', 0)} of the "
        f"batches: {run.get('batch_ms_mean_during_vacuum', 0)} ms per batch then, "
        f"{run.get('batch_ms_mean_without_vacuum', 0)} ms otherwise (first / last 10 batches "
        f"outside it: {run.get('first_10_without_vacuum_ms', 0)} / "
        f"{run.get('last_10_without_vacuum_ms', 0)} ms).",
        "",
        f"Batch times through the run (every tenth, ms): "
        f"{', '.join(map(str, run['batch_ms_every_tenth']))}.",
        "",
    ]
