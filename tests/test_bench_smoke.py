"""The benchmark harnesses (bench/run.py, bench/asgi_path.py) run end to end, with tiny
durations, so they cannot rot.

It starts its own redis-server, PostgreSQL database, gunicorns and wrk (installing Debian's wrk
when missing); nothing here is timed or compared, only that every measurement is there.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCENARIOS = {
    "get": ("ours", "simplejwt"),
    "get_stateless": ("ours_stateless", "simplejwt_stateless"),
    "get_cached": ("ours_cached", "simplejwt_stateless"),
    "refresh": ("ours", "simplejwt"),
    "sliding": ("ours_inside_window", "ours_outside_window"),
    "sliding_10x": ("ours_inside_window_10x", "ours_outside_window"),
    "login": ("ours", "simplejwt"),
    "login_no_throttle": ("ours_no_throttle", "simplejwt"),
    "dpop": ("ours_dpop", "ours_bearer"),
}


def run_bench(script: str, output: Path, *args: str, timeout: float) -> dict:
    """Run a bench script with one-second rounds, writing ``output`` (its JSON file)."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--duration", "1", "--rounds", "1",
         "--output-dir", str(output.parent), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return json.loads(output.read_text())


def test_bench_runs_every_scenario(tmp_path):
    result = run_bench("run.py", tmp_path / "results.json", "--quick", timeout=120)

    scenarios = {s["name"]: s for s in result["scenarios"]}
    assert set(scenarios) == set(SCENARIOS)
    for name, labels in SCENARIOS.items():
        for label in labels:
            summary = scenarios[name][label]
            assert summary["rps"] > 0, (name, label)
            assert summary["non_2xx"] == 0, (name, label, summary)
            assert summary["cpu_us_per_request"]["app"] > 0, (name, label, summary)
        assert scenarios[name]["ratio_rps"] > 0

    # Every refresh was a real rotation, every in-window request of 4a a re-issue (but for
    # tokens sent again after wrk's list ran out: this process remembers their successor).
    refresh = scenarios["refresh"]["rounds"]["ours"][0]
    assert refresh["rotations_in_db"] >= refresh["ok"] > 0
    sliding = scenarios["sliding"]["rounds"]["ours_inside_window"][0]
    # SET NX in flight at the end count too.
    assert sliding["reissued"] >= sliding["ok"] - sliding["repeated"] > 0

    # The round-trip count is measured and reported.
    accounting = result["accounting"]
    assert accounting["get_outside_window"]["commands_per_request"] == 1
    assert accounting["get_outside_window"]["commands"] == {"mget": 1}
    assert accounting["get_inside_window_reissue"]["commands_per_request"] == 2
    assert scenarios["get"]["ours"]["cache_commands_per_request"] > 0
    assert scenarios["get"]["simplejwt"]["cache_commands_per_request"] == 0
    assert "one_cache_round_trip_outside_window" in result["targets"]

    assert result["micro"]["ours_authenticate"]["median_us"] > 0
    assert result["micro"]["ours_authenticate_client_side_cache"]["median_us"] > 0
    assert result["db_queries"]["ours_authenticate"]["statements"] == 0
    assert result["storage"]["redis"]["active_session_bytes"]["total_memory_usage"] > 0
    assert result["storage"]["database"]["ours"]["refreshes"] > 0
    assert "| 1. GET" in (tmp_path / "results.md").read_text()

    # The purge at scale (20,000 generated rows with --quick): every purgeable row went, in
    # timed batches, with login measured before and while it ran.
    purge = result["purge"]["purge"]
    assert purge["deleted"] == 12_000 and purge["batches"] >= 12
    assert purge["first_10_batches_ms"] > 0 and purge["last_10_batches_ms"] > 0
    assert purge["login_baseline"]["non_2xx"] == purge["login_during_purge"]["non_2xx"] == 0
    assert result["purge"]["reads"]["changelist_page_ms"] > 0
    assert "purge_linear" in result["targets"]
    assert "Purge at scale" in (tmp_path / "results.md").read_text()


def test_asgi_bench_runs_every_variant(tmp_path):
    """bench/asgi_path.py: every server and view variant answers 200 under wrk, and the
    async-native ones read the revocation state as the docs say."""
    result = run_bench("asgi_path.py", tmp_path / "asgi.json", timeout=180)
    variants = result["variants"]
    assert len(variants) == 13
    for label, summary in variants.items():
        assert summary["rps"] > 0 and summary["non_2xx"] == 0, (label, summary)
        assert summary["cpu_us_per_request"]["app"] > 0, (label, summary)
    # One MGET per request through django-redis, on the sync and the async path alike: as many
    # as wrk counted, give or take the requests in flight when the round started (the previous
    # variant's) or stopped, one per connection each.
    in_flight = 2 * result["environment"]["connections"]
    for label in ("WSGI: gunicorn, DRF view", "ASGI: uvicorn, django-ninja async, django-redis"):
        run = result["runs"][label][0]
        assert set(run["cache_commands"]) == {"mget"}, (label, run["cache_commands"])
        assert abs(run["cache_commands"]["mget"] - run["requests"]) <= in_flight, (
            label, run["cache_commands"], run["requests"])
    # With CLIENT_SIDE_CACHE a worker reads a session once (one MGET, under the tracker's lock:
    # requests that wait for it find the entry), then hears of its changes from Redis: a
    # round's reads are bounded by sessions x workers however many requests it served (a
    # per-request ratio is not: a loaded machine serves few). Plus one per connection: a
    # request of the round before that finished after Redis had been quiet for the bench's
    # settle (bench/infra.py, RedisServer.reset_stats). Only MGETs are this variant's; the
    # round before may be django-valkey's GET/MULTI/EXEC (seen at load 12: 40 of them).
    label = "ASGI: uvicorn, django-ninja async, CLIENT_SIDE_CACHE"
    environment = result["environment"]
    bound = environment["sessions"] * environment["workers"] + environment["connections"]
    for run in result["runs"][label]:
        assert run["cache_commands"].get("mget", 0) <= bound, (label, run)
        assert run["requests"] > 0, (label, run)
    assert (tmp_path / "asgi.md").read_text().startswith("Run on ")


def test_the_dpop_bench_measures_every_figure(tmp_path):
    output = tmp_path / "dpop.json"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "dpop_proof.py"), "--calls", "20",
         "--json", str(output)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    result = json.loads(output.read_text())
    for alg in ("ES256", "EdDSA"):
        for figure in ("check", "check_key_imported", "verify_with_replay_record"):
            assert result[f"{alg}_{figure}_us"] > 0
    assert result["live_records_per_device"] == 700  # 10 req/s x (60 s + 10 s of leeway)
    assert result["bytes_per_device_at_10_rps"] == pytest.approx(
        700 * result["bytes_per_record"])
    table = output.with_suffix(".md").read_text()
    assert "| ES256 `check_proof`, key from the thumbprint cache |" in table
    assert "700 live records" in table
