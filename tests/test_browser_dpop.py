"""The JS client's DPoP key in headless Debian chromium: made by WebCrypto, never extractable,
kept in IndexedDB, one per browser profile however many tabs start at once, the same after a
reload; the proofs Chromium signs with it pass the core's ``dpop.check_proof``.
"""

import json
import time
from datetime import timedelta

import pytest
import requests
from django.core.signals import request_started

from django_doubletoken import dpop
from django_doubletoken.models import DeviceSession

from .browser import browser  # noqa: F401  (fixture)
from .servers import app_server
from .test_browser_demo import (
    BURST,
    fire_burst,
    log_entries,
    refreshed_tokens_outlive_the_burst,
    server,  # noqa: F401  (fixture)
    sign_in,
    wait_until_expired,
)

pytestmark = pytest.mark.django_db(transaction=True)

DPOP_MODULE = "/static/django_doubletoken/doubletoken-dpop.js"
CLIENT_MODULE = "/static/django_doubletoken/doubletoken.js"
# Counts the key pairs a tab makes, and makes each take 300 ms: two tabs that start together
# then both find IndexedDB empty before either has stored its pair (the race to be won).
SLOW_KEYGEN = """
window.__keysMade = 0;
const generate = crypto.subtle.generateKey.bind(crypto.subtle);
crypto.subtle.generateKey = async (...args) => {
  window.__keysMade += 1;
  const pair = await generate(...args);
  await new Promise((resolve) => setTimeout(resolve, 300));
  return pair;
};
"""
# In a tab: the key pair through the client's own loader, its thumbprint, and what exporting
# the private key does.
LOAD_KEY = """async (module) => {
  const { DPoPProver, storedKeyPair } = await import(module);
  const prover = new DPoPProver(() => storedKeyPair("doubletoken"));
  const pair = await prover.keyPair();
  const exported = [];
  for (const format of ["pkcs8", "jwk"]) {
    try {
      await crypto.subtle.exportKey(format, pair.privateKey);
      exported.push("exported");
    } catch (error) {
      exported.push(error.name);
    }
  }
  return { thumbprint: await prover.thumbprint(), keysMade: window.__keysMade, exported,
           extractable: pair.privateKey.extractable, algorithm: pair.privateKey.algorithm };
}"""


def open_tab(context, base):
    page = context.new_page()
    # Any document of the origin will do: it shares the origin's IndexedDB.
    page.goto(f"{base}{DPOP_MODULE}")
    return page


def test_one_non_extractable_key_per_profile_shared_by_tabs_and_reloads(
    live_server, browser  # noqa: F811
):
    context = browser.new_context()
    context.add_init_script(SLOW_KEYGEN)
    tabs = [open_tab(context, live_server.url) for _ in range(2)]
    # Both tabs start loading the key at the same moment, on one BroadcastChannel message.
    for tab in tabs:
        tab.evaluate("""([script, module]) => {
          const channel = new BroadcastChannel("go");
          channel.onmessage = () => { window.__loaded = eval(script)(module); };
        }""", [LOAD_KEY, DPOP_MODULE])
    starter = open_tab(context, live_server.url)
    starter.evaluate("new BroadcastChannel('go').postMessage('go')")
    loaded = [tab.evaluate("async () => { while (!window.__loaded) "
                           "await new Promise((r) => setTimeout(r, 20)); return window.__loaded; }")
              for tab in tabs]

    # Each tab made a pair (both found none), yet both use the one that was stored first.
    assert [tab["keysMade"] for tab in loaded] == [1, 1]
    assert loaded[0]["thumbprint"] == loaded[1]["thumbprint"]
    for tab in loaded:
        assert tab["extractable"] is False
        assert tab["exported"] == ["InvalidAccessError", "InvalidAccessError"]
        assert tab["algorithm"] == {"name": "ECDSA", "namedCurve": "P-256"}

    # A reload (and a third tab) reads it back: no new pair.
    tabs[0].reload()
    again = tabs[0].evaluate(LOAD_KEY, DPOP_MODULE)
    third = open_tab(context, live_server.url).evaluate(LOAD_KEY, DPOP_MODULE)
    assert again["thumbprint"] == third["thumbprint"] == loaded[0]["thumbprint"]
    assert again["keysMade"] == third["keysMade"] == 0

    # Another browser profile has a key of its own.
    other = browser.new_context()
    assert open_tab(other, live_server.url).evaluate(LOAD_KEY, DPOP_MODULE)["thumbprint"] != \
        loaded[0]["thumbprint"]
    other.close()
    context.close()


def test_chromium_proofs_pass_the_cores_checks(live_server, browser, settings):  # noqa: F811
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_NONCE": True}
    nonce = dpop.current_nonce()
    page = open_tab(browser.new_context(), live_server.url)
    made = page.evaluate("""async ([module, base, nonce]) => {
      const { createClient } = await import(module);
      const client = createClient({ dpop: true, authURL: base + "/api/auth/" });
      const { DPoPProver, storedKeyPair } = await import(module.replace("doubletoken.js",
                                                                        "doubletoken-dpop.js"));
      const prover = new DPoPProver(() => storedKeyPair("doubletoken"));
      prover.rememberNonce(base, nonce);
      return {
        thumbprint: await client.dpopThumbprint(),
        login: await prover.proof({ method: "POST", url: base + "/api/auth/login/" }),
        me: await prover.proof({ method: "get", url: base + "/api/me/?x=1",
                                 accessToken: "the.access.token" }),
      };
    }""", [CLIENT_MODULE, live_server.url, nonce])
    now = time.time()
    login = dpop.check_proof(made["login"], method="POST",
                             uri=f"{live_server.url}/api/auth/login/", now=now)
    # The client and a prover of the same name use the one key of the profile.
    assert login.jkt == made["thumbprint"]
    me = dpop.check_proof(made["me"], method="GET", uri=f"{live_server.url}/api/me/",
                          access_token="the.access.token", jkt=made["thumbprint"], now=now)
    assert me.htu == f"{live_server.url}/api/me/"
    with pytest.raises(dpop.ProofError):
        dpop.check_proof(made["me"], method="GET", uri=f"{live_server.url}/api/me/",
                         access_token="another.access.token", now=now)


# --- the demo page with DPoP on (the server binds the session) --------------------------------

def _dpop_profile(settings, **overrides):
    settings.DOUBLETOKEN = {
        **settings.DOUBLETOKEN,
        "CLIENT_PROFILES": {"web": {"DPOP": "optional"}},
        **overrides,
    }


def _binding(page):
    page.wait_for_selector("#binding[data-bound=true]")
    return {name: page.get_attribute("#binding", f"data-{name}") for name in ("jkt", "thumbprint")}


def _stored_access(page):
    return json.loads(page.evaluate("localStorage.getItem('doubletoken')"))["access"]


def test_the_demo_session_is_bound_slides_and_refreshes(server, browser, settings,  # noqa: F811
                                                        user, password):
    # 8 s tokens that slide in their last 6 s: a call a few seconds after login slides, one
    # after expiry refreshes.
    _dpop_profile(settings, ACCESS_TOKEN_LIFETIME=timedelta(seconds=8),
                  SLIDING_THRESHOLD=timedelta(seconds=6))
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, server.url, password)
    binding = _binding(page)
    assert binding["jkt"] and binding["jkt"] == binding["thumbprint"]
    row = DeviceSession.objects.get()
    assert row.dpop_jkt == binding["thumbprint"]
    assert "non-extractable key" in page.inner_text("#mechanisms")

    # A slide keeps the binding.
    first = _stored_access(page)
    # Inside the sliding window (the last 6 s), well before expiry.
    page.wait_for_function("parseFloat(document.querySelector('#remaining').textContent) < 5.5")
    assert fire_burst(page) == f"{BURST}/{BURST} calls succeeded"
    page.wait_for_function(f"!localStorage.getItem('doubletoken').includes({first!r})")
    assert log_entries(page, "slide") >= 1 and server.log.refresh_requests == 0
    assert _binding(page)["jkt"] == binding["thumbprint"]

    # Expired: one refresh for the burst, with a proof of the same key.
    wait_until_expired(page)
    refreshed_tokens_outlive_the_burst(settings)
    assert fire_burst(page) == f"{BURST}/{BURST} calls succeeded"
    assert server.log.refresh_requests == 1 and server.log.rotations == 1
    assert _binding(page)["jkt"] == binding["thumbprint"]

    # After a reload the key is read back from IndexedDB: the session goes on.
    page.reload()
    page.wait_for_selector("body[data-state=signed-in]")
    assert _binding(page)["thumbprint"] == binding["thumbprint"]
    assert fire_burst(page) == f"{BURST}/{BURST} calls succeeded"
    assert page.get_attribute("body", "data-state") == "signed-in"
    assert server.log.reused == 0

    # The tokens without the key are worth nothing: as Bearer, or as DPoP without a proof.
    # (Over HTTP, as a thief would send them: Django's test client cannot run in the thread
    # of Playwright's event loop.)
    stolen = _stored_access(page)
    me = server.url + "/api/me/"
    assert requests.get(me, headers={"Authorization": f"Bearer {stolen}"},
                        timeout=30).status_code == 401
    refused = requests.get(me, headers={"Authorization": f"DPoP {stolen}"}, timeout=30)
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_dpop_proof"
    context.close()


def test_the_server_nonce_costs_one_more_login_request(server, browser, settings,  # noqa: F811
                                                      user, password):
    _dpop_profile(settings, DPOP_NONCE=True)
    logins = []

    def on_request(sender, environ, **kwargs):
        if environ.get("PATH_INFO") == "/api/auth/login/":
            logins.append(environ["REQUEST_METHOD"])

    request_started.connect(on_request, weak=False)
    try:
        page = browser.new_page()
        sign_in(page, server.url, password)
        _binding(page)
        # 400 use_dpop_nonce with the nonce in DPoP-Nonce, then the login with it.
        assert logins == ["POST", "POST"]
        assert fire_burst(page) == f"{BURST}/{BURST} calls succeeded"
        assert logins == ["POST", "POST"]
    finally:
        request_started.disconnect(on_request)


def test_the_demo_socket_of_a_bound_session_carries_proofs(browser, user, password,  # noqa: F811
                                                           tmp_path):
    # Under uvicorn (two workers, channels-redis): the handshake's proof travels as a
    # subprotocol, each renewal's in the authenticate message; both workers check them.
    short_lived = {"ACCESS_TOKEN_LIFETIME": 4, "SLIDING_THRESHOLD": 1, "GRACE_PERIOD": 2,
                   "LEEWAY": 0, "CLIENT_PROFILES": {"web": {"DPOP": "optional"}}}
    env = {"DEBUG": "0", "TICK_SECONDS": "1", "VAR_DIR": str(tmp_path)}
    with app_server("uvicorn", workers=2, doubletoken=short_lived, environ=env) as base:
        page = browser.new_context().new_page()
        sign_in(page, base, password)
        _binding(page)
        page.wait_for_selector("#socket-state[data-state=open]", timeout=10000)
        page.wait_for_function(
            "document.querySelector('#socket-detail').textContent.includes('tick')")
        # Two token lifetimes later it is the same socket: each new token went over it with a
        # fresh proof of the key.
        page.wait_for_function(
            "document.querySelectorAll('#log [data-kind=socket]').length >= 2", timeout=15000)
        assert page.get_attribute("#socket-state", "data-state") == "open"
        assert "WebSocket closed" not in page.inner_text("#log")
