"""The demo page at / in headless Debian chromium, against a live server with short lifetimes.

Access tokens live 5 s (slide in their last second), a replaced token or refresh token is
honoured for 2 s: short, yet long enough for a burst of calls on a loaded 2-core CI machine.
Refreshes are counted where they arrive: on the server.
"""

import json
import os
import struct
import subprocess
import sys
import threading
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.signals import request_started

from django_doubletoken import signals
from django_doubletoken.models import DeviceSession

from .browser import browser  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 20
ROOT = Path(__file__).resolve().parent.parent
# The page's browser pretends to lack Web Locks and BroadcastChannel (older browsers).
WITHOUT_LOCKS_AND_CHANNELS = """
Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined, configurable: true });
delete window.BroadcastChannel;
"""


class ServerLog:
    """What reached the server: refresh requests, rotations, reuse detections."""

    def __init__(self):
        self._lock = threading.Lock()
        self.refresh_requests = 0
        self.rotations = 0
        self.reused = 0

    def on_request(self, sender, environ, **kwargs):
        if environ.get("PATH_INFO") == "/api/auth/refresh/" and environ["REQUEST_METHOD"] == "POST":
            with self._lock:
                self.refresh_requests += 1

    def on_rotation(self, sender, **kwargs):
        with self._lock:
            self.rotations += 1

    def on_reuse(self, sender, **kwargs):
        with self._lock:
            self.reused += 1


@pytest.fixture
def server(live_server, settings):
    settings.DOUBLETOKEN = {
        **settings.DOUBLETOKEN,
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=5),
        "SLIDING_THRESHOLD": timedelta(seconds=1),
        "GRACE_PERIOD": timedelta(seconds=2),
        "LEEWAY": timedelta(0),
        "CLIENT_PROFILES": {"web": {}},
    }
    log = ServerLog()
    request_started.connect(log.on_request, weak=False)
    signals.session_refreshed.connect(log.on_rotation, weak=False)
    signals.refresh_reused.connect(log.on_reuse, weak=False)
    live_server.log = log
    yield live_server
    request_started.disconnect(log.on_request)
    signals.session_refreshed.disconnect(log.on_rotation)
    signals.refresh_reused.disconnect(log.on_reuse)


def sign_in(page, base, password, device="Demo page"):
    page.goto(f"{base}/")
    page.wait_for_selector("#login-form")
    page.fill("#username", "alice")
    page.fill("#password", password)
    page.fill("#device", device)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("body[data-state=signed-in]")
    page.wait_for_function("document.querySelector('#user').textContent === 'alice'")


def wait_until_expired(page):
    page.wait_for_selector("#remaining[data-expired]", timeout=15000)


def start_burst(page):
    # Clicked from script: the bursts of several tabs leave within milliseconds of each other.
    page.evaluate("document.querySelector('#burst').click()")


def burst_result(page):
    page.wait_for_selector("#burst-result[data-done]", timeout=15000)
    result = page.inner_text("#burst-result").split(" (")[0]
    if result != f"{BURST}/{BURST} calls succeeded":
        print(f"{page.url} log:\n{page.inner_text('#log')}")  # shown when the test fails
    return result


def refreshed_tokens_outlive_the_burst(settings):
    # The page has seen its short token expire; the token the burst's one refresh brings back
    # must not expire while the 20 replays queue for the browser's 6 connections (on a loaded
    # machine that took longer than a 5 s token lives: a second 401, which is not replayed).
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "ACCESS_TOKEN_LIFETIME": timedelta(minutes=2)}


def fire_burst(page):
    start_burst(page)
    return burst_result(page)


def log_entries(page, kind):
    return page.locator(f"#log [data-kind={kind}]").count()


# Run with the example project's own settings and DEBUG=0, as `DEBUG=0 scripts/demo` runs it.
DEMO_WITH_DEBUG_OFF = """
import json
import django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
answers = {}
for path in ["/", "/static/django_doubletoken/doubletoken.js",
             "/static/django_doubletoken/doubletoken-dpop.js",
             "/static/django_doubletoken/doubletoken-axios.js",
             "/static/example_project/demo.js", "/static/example_project/demo.css"]:
    response = client.get(path)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    answers[path] = [response.status_code, response["Content-Type"], body.decode()]
print(json.dumps({"debug": settings.DEBUG, "middleware": settings.MIDDLEWARE,
                  "answers": answers}))
"""


def test_the_demo_serves_its_page_and_module_with_debug_off(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings", "DEBUG": "0",
           "VAR_DIR": str(tmp_path), "PYTHONWARNINGS": "error::UserWarning"}
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-c", DEMO_WITH_DEBUG_OFF], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    demo = json.loads(result.stdout)
    assert demo["debug"] is False
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in demo["middleware"]
    status, content_type, html = demo["answers"]["/"]
    assert status == 200 and 'type="module"' in html and "example_project/demo.js" in html
    for path, (status, content_type, body) in demo["answers"].items():
        if path != "/":  # no collectstatic was run: WhiteNoise finds them in the apps
            kind = "text/css" if path.endswith(".css") else "text/javascript"
            assert status == 200 and content_type.startswith(kind) and body, path
    assert "export function createClient" in demo["answers"][
        "/static/django_doubletoken/doubletoken.js"][2]


def test_the_test_settings_keep_the_async_middleware_chain(settings):
    # WhiteNoise is sync-only: the example project adds it only with DEBUG off.
    assert "whitenoise.middleware.WhiteNoiseMiddleware" not in settings.MIDDLEWARE


def test_burst_after_expiry_refreshes_once(server, browser, settings, user,  # noqa: F811
                                           password):  # noqa: F811
    page = browser.new_page()
    sign_in(page, server.url, password)
    wait_until_expired(page)
    refreshed_tokens_outlive_the_burst(settings)

    assert fire_burst(page) == f"{BURST}/{BURST} calls succeeded"

    assert server.log.refresh_requests == 1 and server.log.rotations == 1
    assert log_entries(page, "refresh") == 1
    assert page.get_attribute("body", "data-state") == "signed-in"


@pytest.mark.parametrize("apis", ["web-locks", "fallbacks"])
def test_tabs_share_one_refresh_and_an_idle_tab_never_presents_a_stale_one(
    server, browser, settings, user, password, apis  # noqa: F811
):
    # 40 calls share the browser's 6 connections to the host: on a loaded machine a replay can
    # wait in that queue for seconds. An 8 s access token outlives the wait (the server floors
    # iat, so a token may have a second less left when it reaches the page).
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "ACCESS_TOKEN_LIFETIME": timedelta(seconds=8)}
    context = browser.new_context()
    if apis == "fallbacks":
        context.add_init_script(WITHOUT_LOCKS_AND_CHANNELS)
    # The other tabs are open before tab 1 signs in: they follow it (shared storage, a
    # message), and their first calls come early enough not to slide the new token.
    tab2, idle = context.new_page(), context.new_page()
    for tab in (tab2, idle):
        tab.goto(f"{server.url}/")
        tab.wait_for_selector("body[data-state=signed-out]")
    tab1 = context.new_page()
    sign_in(tab1, server.url, password)
    for tab in (tab2, idle):
        tab.wait_for_selector("body[data-state=signed-in]")
        tab.wait_for_function("document.querySelector('#user').textContent === 'alice'")
    mechanisms = tab1.inner_text("#mechanisms")
    assert ("localStorage lease" if apis == "fallbacks" else "Web Locks") in mechanisms
    assert "storage events" in mechanisms

    # Both tabs fire a burst with the expired token: one refresh reaches the server.
    wait_until_expired(tab1)
    start_burst(tab1)
    start_burst(tab2)
    assert burst_result(tab1) == burst_result(tab2) == f"{BURST}/{BURST} calls succeeded"
    assert server.log.refresh_requests == 1 and server.log.rotations == 1
    assert log_entries(tab1, "refresh") + log_entries(tab2, "refresh") == 1

    # Another rotation by tab 1 while the idle tab sleeps through it...
    wait_until_expired(tab1)
    assert fire_burst(tab1) == f"{BURST}/{BURST} calls succeeded"
    assert server.log.rotations == 2
    # ...then, well past the grace window of both rotations, the idle tab calls: it refreshes
    # with the newest refresh token (a stale one would be reuse and revoke the session).
    wait_until_expired(idle)
    refreshed_tokens_outlive_the_burst(settings)
    assert fire_burst(idle) == f"{BURST}/{BURST} calls succeeded"
    assert server.log.rotations == 3 and server.log.refresh_requests == 3
    assert server.log.reused == 0
    for tab in (tab1, tab2, idle):
        assert tab.get_attribute("body", "data-state") == "signed-in"
    assert not DeviceSession.objects.filter(revoked_at__isnull=False).exists()
    context.close()


def test_a_session_revoked_from_another_browser_returns_to_the_login_form(
    server, browser, settings, user, password  # noqa: F811
):
    # Tokens that outlive the test: on a slow machine a 3 s token could expire before the burst,
    # and the client would then (rightly) try a refresh first.
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5)}
    laptop = browser.new_context().new_page()
    sign_in(laptop, server.url, password, device="Laptop")
    phone = browser.new_context().new_page()  # another browser: its own storage
    sign_in(phone, server.url, password, device="Phone")
    rows = phone.locator("#devices tbody tr")
    rows.filter(has_text="Laptop").wait_for()
    assert rows.count() == 2

    rows.filter(has_text="Laptop").locator("button.revoke").click()
    rows.filter(has_text="Laptop").wait_for(state="detached")

    # The laptop's next call is refused: it is signed out, once, however many calls failed.
    start_burst(laptop)
    laptop.wait_for_selector("#login-form", state="visible")
    assert "session_revoked" in laptop.inner_text("#logout-reason")
    assert laptop.get_attribute("body", "data-state") == "signed-out"
    assert laptop.evaluate("localStorage.getItem('doubletoken')") is None
    assert phone.get_attribute("body", "data-state") == "signed-in"
    assert server.log.refresh_requests == 0


def test_cookie_mode_keeps_the_refresh_token_out_of_reach_and_resumes(
    server, browser, settings, user, password  # noqa: F811
):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "REFRESH_COOKIE_NAME": "dt_refresh"}
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, server.url, password)
    # The page load tried the cookie once before signing in (none yet: 400, no rotation).
    assert server.log.refresh_requests == 1 and server.log.rotations == 0
    assert "HttpOnly cookie" in page.inner_text("#mechanisms")
    cookie = {c["name"]: c for c in context.cookies()}["dt_refresh"]
    assert cookie["httpOnly"] and cookie["path"] == "/api/auth/refresh/"
    assert "dt_refresh" not in page.evaluate("document.cookie")
    assert page.evaluate("localStorage.length") == 0  # the access token is in memory only

    wait_until_expired(page)
    refreshed_tokens_outlive_the_burst(settings)
    assert fire_burst(page) == f"{BURST}/{BURST} calls succeeded"
    assert server.log.refresh_requests == 2 and server.log.rotations == 1

    page.reload()  # memory is gone; the cookie gets a new access token
    page.wait_for_selector("body[data-state=signed-in]")
    assert server.log.rotations == 2

    page.click("#logout")
    page.wait_for_selector("#login-form", state="visible")
    assert "dt_refresh" not in {c["name"] for c in context.cookies()}
    page.reload()
    page.wait_for_selector("body[data-state=signed-out]")
    assert server.log.rotations == 2
    context.close()


def distinct_rows(png: bytes) -> tuple[int, int, int]:
    """(width, height, number of distinct pixel rows) of an 8-bit, non-interlaced PNG.

    Rows are compared as stored (filtered): identical pixel rows stay identical, so a blank
    page has a handful of distinct rows and a page with text and controls has hundreds.
    """
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, header, data = 8, None, b""
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position:position + 8])
        body = png[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            data += body
        position += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0
    stride = 1 + width * (3 if color == 2 else 4)
    raw = zlib.decompress(data)
    rows = {raw[i:i + stride] for i in range(0, len(raw), stride)}
    return width, height, len(rows)


def test_screenshot_of_the_demo_page(server, browser, settings, user, password,  # noqa: F811
                                     tmp_path):
    refreshed_tokens_outlive_the_burst(settings)  # this burst needs no expiry at all
    page = browser.new_page(viewport={"width": 1100, "height": 820})
    sign_in(page, server.url, password, device="Chromium on Linux")
    page.locator("#devices tbody tr").first.wait_for()
    assert fire_burst(page) == f"{BURST}/{BURST} calls succeeded"

    shot = tmp_path / "demo.png"
    page.screenshot(path=shot, full_page=True)

    width, height, rows = distinct_rows(shot.read_bytes())
    assert width == 1100 and height >= 600
    assert rows > 100, f"the screenshot looks blank ({rows} distinct rows)"
    blank = browser.new_page(viewport={"width": 1100, "height": 820})
    blank.set_content("<body style='background: #f6f7f9'></body>")
    assert distinct_rows(blank.screenshot(full_page=True))[2] < 5  # the check can tell
