"""Summaries of the load rounds and the Markdown report."""

from __future__ import annotations

import statistics
from typing import Any


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over a stack's rounds (rounds alternate with the other stack's)."""

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    return {
        "rps": median([r["rps"] for r in rounds]),
        "p50_ms": round(median([r["latency_us"]["p50"] for r in rounds]) / 1000, 2),
        "p99_ms": round(median([r["latency_us"]["p99"] for r in rounds]) / 1000, 2),
        "requests": sum(r["requests"] for r in rounds),
        "non_2xx": sum(r["errors"]["status"] for r in rounds),
        "socket_errors": sum(
            r["errors"][k] for r in rounds for k in ("connect", "read", "write", "timeout")
        ),
        # Server-side CPU per request (gunicorn workers + redis-server + PostgreSQL backends):
        # hardly moved by other load on the machine, unlike requests per second.
        "cpu_us_per_request": {
            part: round(statistics.median([r["cpu_us_per_request"][part] for r in rounds]))
            for part in rounds[0]["cpu_us_per_request"]
        },
        "cache_commands_per_request": round(
            sum(r["cache_commands"] for r in rounds) / max(1, sum(r["requests"] for r in rounds)),
            3,
        ),
    }


def _ratio(ours: float, theirs: float) -> float:
    return round(ours / theirs, 2) if theirs else 0.0


def compare(name: str, title: str, a: str, b: str, runs: dict[str, list]) -> dict[str, Any]:
    first, second = summarize(runs[a]), summarize(runs[b])
    return {
        "name": name,
        "title": title,
        "labels": [a, b],
        a: first,
        b: second,
        "ratio_rps": _ratio(first["rps"], second["rps"]),
        # > 1: ours needs less server CPU per request.
        "ratio_cpu": _ratio(
            second["cpu_us_per_request"]["total"], first["cpu_us_per_request"]["total"]
        ),
        "rounds": runs,
    }


TARGETS = {
    "get": ("ratio >= 0.95", lambda s: s["ratio_rps"] >= 0.95),
    "get_stateless": ("ratio >= 1.0", lambda s: s["ratio_rps"] >= 1.0),
    "get_cached": ("ratio >= 0.9", lambda s: s["ratio_rps"] >= 0.9),
    "refresh": ("ratio >= 4", lambda s: s["ratio_rps"] >= 4.0),  # issue 29
    "sliding": ("ratio >= 0.90 (within 10% of outside)", lambda s: s["ratio_rps"] >= 0.90),
    "login": ("ratio >= 0.85", lambda s: s["ratio_rps"] >= 0.85),
    "login_no_throttle": ("ratio >= 0.85", lambda s: s["ratio_rps"] >= 0.85),
    "dpop": ("ratio >= 0.7 (DPoP vs bearer)", lambda s: s["ratio_rps"] >= 0.7),
}


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    lines = [
        f"Run on {env['date_utc']} (UTC), {env['cpu_count']} cores, load average "
        f"{env['loadavg_before'][0]:.2f} before / {env['loadavg_after'][0]:.2f} after; "
        f"{env['database']}, Redis {env['redis_version']} (a private redis-server), gunicorn "
        f"{env['gunicorn_workers']} {env['gunicorn_worker_class']} workers per stack, "
        f"{env['load_generator']} with {env['wrk_threads']} thread and "
        f"{env['wrk_connections']} connections, {env['round_seconds']} s rounds, "
        f"{env['rounds']} per stack, alternating.",
        "",
        f"Command: `{env['command']}` (app at commit {env['app_commit']}"
        f"{', with uncommitted changes' if env['app_tree_changed'] else ''})",
        "",
        "| scenario | ours req/s | p50 / p99 ms | simplejwt req/s | p50 / p99 ms | "
        "ours / simplejwt | server CPU µs/req | cache cmds/req (ours) | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for scenario in result["scenarios"]:
        a, b = scenario["labels"]
        first, second = scenario[a], scenario[b]
        target = scenario.get("target")
        verdict = f"{target['text']}: {'met' if target['met'] else 'MISSED'}" if target else ""
        lines.append(
            f"| {scenario['title']} | {first['rps']:.0f} | {first['p50_ms']:.2f} / "
            f"{first['p99_ms']:.2f} | {second['rps']:.0f} | {second['p50_ms']:.2f} / "
            f"{second['p99_ms']:.2f} | **{scenario['ratio_rps']:.2f}** | "
            f"{first['cpu_us_per_request']['total']} / {second['cpu_us_per_request']['total']} | "
            f"{first['cache_commands_per_request']:.2f} | {verdict} |"
        )
    lines += [
        "",
        "Server CPU per request, µs (gunicorn workers / redis-server / PostgreSQL backends; "
        "median of rounds):",
        "",
        "| scenario | ours: app / redis / db | simplejwt (or 2nd column): app / redis / db |",
        "|---|---:|---:|",
    ]
    for scenario in result["scenarios"]:
        cells = []
        for label in scenario["labels"]:
            cpu = scenario[label]["cpu_us_per_request"]
            cells.append(f"{cpu['app']} / {cpu['redis']} / {cpu['database']}")
        lines.append(f"| {scenario['title']} | {cells[0]} | {cells[1]} |")
    lines += ["", *[f"- {note}" for note in result["notes"]], ""]

    if "purge" in result:
        from purge import markdown as purge_markdown

        lines += purge_markdown(result["purge"])
    if "micro" not in result:  # a partial run (--only): the load table only
        return "\n".join(lines)
    micro = result["micro"]
    lines += [
        "Per call, in one process (median of batches, µs):",
        "",
        "| call | µs |",
        "|---|---:|",
        *[f"| {name} | {value['median_us']:.1f} |" for name, value in micro.items()],
        "",
    ]

    accounting = result["accounting"]
    lines += [
        "Redis traffic per operation of ours (one request at a time, INFO commandstats):",
        "",
        "| operation | commands | which | bytes to / from Redis |",
        "|---|---:|---|---:|",
    ]
    for name, row in accounting.items():
        which = ", ".join(f"{k} {v:g}" for k, v in row["commands"].items())
        lines.append(
            f"| {name} | {row['commands_per_request']:g} | {which} | "
            f"{row['bytes_to_redis_per_request']:.0f} / {row['bytes_from_redis_per_request']:.0f} |"
        )

    queries = result["db_queries"]
    lines += [
        "",
        "Database statements per operation (in one process; BEGIN/COMMIT not counted):",
        "",
        "| operation | ours statements (writes) | simplejwt statements (writes) |",
        "|---|---:|---:|",
    ]
    for op in ("authenticate", "login", "refresh"):
        o, s = queries[f"ours_{op}"], queries[f"simplejwt_{op}"]
        lines.append(
            f"| {op} | {o['statements']} ({o['writes']}) | {s['statements']} ({s['writes']}) |"
        )

    storage = result["storage"]
    redis_bytes = storage["redis"]
    session = redis_bytes["active_session_bytes"]
    rows = storage["database"]
    writes = storage["last_used_writes"]
    lines += [
        "",
        "Storage:",
        "",
        f"- Redis per active session (ours): {session['total_memory_usage']:.0f} B (MEMORY USAGE "
        f"of its state key {session['session_state_key']:.0f} B + last-used marker "
        f"{session['last_used_marker_key']:.0f} B; used_memory grew "
        f"{session['used_memory_delta_per_session']:.0f} B per session over "
        f"{redis_bytes['sessions_measured']} logins). simplejwt keeps nothing in Redis.",
        f"- Redis per denylisted (slid) access token: "
        f"{redis_bytes['denylisted_token_bytes']:.0f} B (the entry holds the successor token "
        f"and expires with the old token); per revoked session: "
        f"{redis_bytes['revoked_session_state_bytes']:.0f} B.",
        f"- Database rows added by the refreshes of scenario 3: ours "
        f"{rows['ours']['rows_added']} over {rows['ours']['refreshes']} refreshes, simplejwt "
        f"{rows['simplejwt']['rows_added']} over {rows['simplejwt']['refreshes']}; per 10,000 "
        f"refreshes: ours {rows['ours']['rows_per_10k']:.0f}, simplejwt "
        f"{rows['simplejwt']['rows_per_10k']:.0f} (tables grew "
        f"{rows['ours']['bytes_per_10k'] / 1e6:.1f} MB and "
        f"{rows['simplejwt']['bytes_per_10k'] / 1e6:.1f} MB per 10,000 on disk, before vacuum).",
        f"- Database writes per continuously used session per hour (ours, last_used_at at the "
        f"default 5 min interval): {writes['writes_per_session_hour_at_default_interval']} "
        f"(checked with a 1 s interval: {writes['writes']} writes in {writes['seconds']:g} s of "
        f"requests every 10 ms), plus one UPDATE per refresh. simplejwt writes nothing per "
        f"request.",
        "",
    ]
    return "\n".join(lines)
