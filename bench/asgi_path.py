"""What SlidingTokenMiddleware's async path is worth under uvicorn, and ASGI next to WSGI.

Serves the example project (1 worker each) with uvicorn — the middleware as shipped (async
path), forced sync (Django then adapts it with a thread hop), and with CLIENT_SIDE_CACHE (the
revocation check answered from memory) — and with a sync gunicorn worker, with and without
CLIENT_SIDE_CACHE, and drives GET /api/me/ with wrk, each variant in turn per round.

    python bench/asgi_path.py [--duration 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.infra import RedisServer, ensure_wrk, free_port  # noqa: E402

# name -> (server, settings module)
VARIANTS = {
    "async path": ("uvicorn", "example_project.settings"),
    "forced sync": ("uvicorn", "bench.asgi.settings_sync"),
    "async path, CLIENT_SIDE_CACHE": ("uvicorn", "bench.asgi.settings_cached"),
    "gunicorn sync (WSGI)": ("gunicorn", "example_project.settings"),
    "gunicorn sync, CLIENT_SIDE_CACHE": ("gunicorn", "bench.asgi.settings_cached"),
}


def serve(server: str, settings_module: str, env: dict, port: int) -> subprocess.Popen:
    command = {
        "uvicorn": ["uvicorn", "example_project.asgi:application", "--host", "127.0.0.1",
                    "--port", str(port), "--workers", "1", "--log-level", "warning"],
        "gunicorn": ["gunicorn", "example_project.wsgi:application", "--bind",
                     f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning"],
    }[server]
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": settings_module})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/auth/jwks/", timeout=1)
            return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("uvicorn did not start")


def wrk(url: str, token: str, duration: int) -> float:
    result = subprocess.run(
        [ensure_wrk(), "-t1", "-c8", f"-d{duration}s", "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, check=True)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    var = tempfile.mkdtemp(prefix="asgi-path-")
    redis_server = RedisServer(Path(var))
    env = {**os.environ, "REDIS_URL": redis_server.url, "VAR_DIR": var, "DEBUG": "1",
           "PYTHONPATH": str(ROOT), "ACCESS_SECONDS": "900", "SLIDING_SECONDS": "300"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "ensure_demo_user"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    results: dict[str, list[float]] = {name: [] for name in VARIANTS}
    try:
        for _ in range(args.rounds):
            for name, (kind, settings_module) in VARIANTS.items():
                port = free_port()
                server = serve(kind, settings_module, env, port)
                try:
                    base = f"http://127.0.0.1:{port}"
                    login = requests.post(f"{base}/api/auth/login/", timeout=10, json={
                        "username": "demo", "password": "demo-password"}).json()
                    results[name].append(wrk(f"{base}/api/me/", login["access"], args.duration))
                finally:
                    server.terminate()
                    server.wait()
    finally:
        redis_server.stop()
    print(f"1 worker each, wrk -c8, {args.rounds} x {args.duration} s rounds, GET /api/me/, "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, values in results.items():
        print(f"  {name:34s} " + "  ".join(f"{v:7.0f}" for v in values) + " req/s")


if __name__ == "__main__":
    main()
