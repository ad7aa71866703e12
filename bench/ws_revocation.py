"""How fast a logout closes the session's WebSockets on another host.

Serves the example project twice on one private Redis and one database: uvicorn (2 workers)
holds the WebSockets, gunicorn (1 worker, another "host") answers the logout. Each trial logs
in, opens ws/notifications/ on uvicorn, waits for its first tick, logs the session out through
gunicorn and times the server's close frame (4004 session_revoked): from the logout's answer,
and from the moment the logout was sent.

    python bench/ws_revocation.py [--trials 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.infra import RedisServer, free_port  # noqa: E402

SERVERS = {
    "uvicorn": ["-m", "uvicorn", "example_project.asgi:application", "--host", "127.0.0.1",
                "--workers", "2", "--log-level", "warning", "--port"],
    "gunicorn": ["-m", "gunicorn", "example_project.wsgi:application", "--workers", "1",
                 "--worker-class", "gthread", "--threads", "4", "--log-level", "warning",
                 "--bind"],
}


def serve(kind: str, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    where = str(port) if kind == "uvicorn" else f"127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, *SERVERS[kind], where], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/api/auth/jwks/", timeout=1)
            return process, base
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{kind} did not start")


def trial(socket_host: str, api_host: str) -> tuple[float, float]:
    pair = requests.post(f"{socket_host}/api/auth/login/", timeout=10, json={
        "username": "demo", "password": "demo-password"}).json()
    url = socket_host.replace("http://", "ws://") + "/ws/notifications/"
    with connect(url, subprotocols=["doubletoken", pair["access"]]) as ws:
        json.loads(ws.recv(timeout=10))  # the first tick: the socket is admitted
        sent = time.perf_counter()
        response = requests.post(f"{api_host}/api/auth/logout/", timeout=10,
                                 headers={"Authorization": f"Bearer {pair['access']}"})
        answered = time.perf_counter()
        assert response.status_code == 204, response.text
        try:
            while True:
                ws.recv(timeout=10)
        except ConnectionClosed as closed:
            at = time.perf_counter()
            assert closed.rcvd is not None and closed.rcvd.code == 4004, closed
    return at - answered, at - sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    var = tempfile.mkdtemp(prefix="ws-revocation-")
    redis_server = RedisServer(Path(var))
    env = {**os.environ, "REDIS_URL": redis_server.url, "VAR_DIR": var, "DEBUG": "1",
           "PYTHONPATH": str(ROOT), "LOGIN_THROTTLE_RATE": "100000/min", "TICK_SECONDS": "5"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "ensure_demo_user"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    processes = []
    try:
        socket_process, socket_host = serve("uvicorn", env)
        processes.append(socket_process)
        api_process, api_host = serve("gunicorn", env)
        processes.append(api_process)
        trial(socket_host, api_host)  # warm-up: connections, imports
        results = [trial(socket_host, api_host) for _ in range(args.trials)]
    finally:
        for process in processes:
            process.terminate()
            process.wait()
        redis_server.stop()
    load = os.getloadavg()[0]
    print(f"logout on gunicorn -> close frame on uvicorn, {args.trials} trials, "
          f"loadavg {load:.1f}")
    for name, values in (("after the logout's answer", [a for a, _ in results]),
                         ("after the logout was sent", [s for _, s in results])):
        ms = sorted(v * 1000 for v in values)
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        print(f"  {name:26s} p50 {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   "
              f"max {ms[-1]:6.1f} ms")


if __name__ == "__main__":
    main()
