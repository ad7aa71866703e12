"""scripts/demo as a newcomer runs it: it builds a virtualenv of its own (the Python it is run
with stays as it was), serves the example project, and within the first minute after signing
in the demo page shows a refresh, the WebSocket following the new token, and a slide — with
its default lifetimes, no environment variables."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings

from .browser import browser  # noqa: F401  (fixture)
from .servers import _wait_until, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
FIRST_MINUTE = 60_000  # ms
# Kept from one run to the next (scripts/demo rebuilds it when setup.cfg changes); inside
# .venv-test/, so that scripts/test's fresh builds start it afresh too.
DEMO_VENV = ROOT / ".venv-test" / "demo"


def _installed(python):
    return subprocess.run([python, "-m", "pip", "list", "--format=freeze",
                           "--disable-pip-version-check"],
                          capture_output=True, text=True, check=True).stdout


def test_the_demo_runs_in_its_own_virtualenv_and_shows_everything_in_a_minute(
        browser, tmp_path):  # noqa: F811
    before = _installed(sys.executable)
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.endswith("_SECONDS") and key not in ("DJANGO_SETTINGS_MODULE",
                                                          "VIRTUAL_ENV", "PYTHONPATH")}
    env.update({"PYTHON": sys.executable, "DEMO_VENV": str(DEMO_VENV),
                "PORT": str(port), "VAR_DIR": str(tmp_path / "var"),
                "REDIS_URL": settings.REDIS_URL, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    log = tmp_path / "demo.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([str(ROOT / "scripts" / "demo")], cwd=ROOT, env=env,
                                   stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # runserver's reloader: a group
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: requests.get(f"{base}/", timeout=2).ok,
                    timeout=600, what="scripts/demo", process=process)
        text = log.read_text()
        assert "Demo lifetimes: access tokens 20 s" in text and "Production defaults" in text

        page = browser.new_page()
        page.goto(f"{base}/")
        page.wait_for_selector("#login-form")
        page.fill("#username", "demo")
        page.fill("#password", "demo-password")
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("body[data-state=signed-in]")
        page.wait_for_selector("#socket-state[data-state=open]", timeout=10_000)
        # Within the first minute, on their own: a refresh, the socket told of the new token,
        # and a slide (whose new token the socket is told of too).
        page.wait_for_function("""() => {
          const log = document.querySelector("#log");
          const followed = log.innerText.split("Sent the new access token over the WebSocket");
          return log.querySelector("[data-kind=refresh]") && log.querySelector("[data-kind=slide]")
            && followed.length > 2;
        }""", timeout=FIRST_MINUTE)
        entries = page.inner_text("#log")
        assert page.get_attribute("#socket-state", "data-state") == "open"
        assert "WebSocket closed" not in entries
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    assert (DEMO_VENV / "bin" / "python").exists()
    assert _installed(sys.executable) == before, "the Python it was run with was changed"
