"""The JS client (static/django_doubletoken/doubletoken.js) under Node's own test runner.

One pytest test starts the live server with short lifetimes and runs ``node --test tests/js/``
against it (base URL in DOUBLETOKEN_TEST_URL); it fails with node's output when node fails.
The server counts, per session, the refresh requests that reach it, so the node tests can
assert "exactly one refresh" on the server's side, and offers two endpoints that misbehave
on purpose (always 401 token_expired; a refresh endpoint that is always 503), and two that
check DPoP proofs with the core's own ``dpop.check_proof`` and want the server's nonce in them,
and one behind the app's step-up guard (``RecentAuthentication``).
"""

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from django_doubletoken import dpop, services, signals
from django_doubletoken.conf import client_profile
from django_doubletoken.dpop.jose import json_object
from django_doubletoken.http import request_uri
from django_doubletoken.permissions import RecentAuthentication
from tests.helpers import access_claims, access_token, craft
from tests.urls import urlpatterns as test_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

JS_TESTS = Path(__file__).parent / "js"
# Debian's node-axios, when installed: the axios adapter is then tested with the real axios
# instead of the test's small stand-in with axios's interceptor contract. DOUBLETOKEN_TEST_AXIOS
# (a path to axios's CommonJS build) chooses another one.
REAL_AXIOS = Path("/usr/share/nodejs/axios/dist/node/axios.cjs")

_lock = threading.Lock()
refresh_calls: Counter = Counter()  # session id -> refresh requests that reached the service
rotations: Counter = Counter()  # session id -> real rotations (session_refreshed)
expired_hits: Counter = Counter()  # session id -> calls to the always-401 endpoint
nonce_hits: Counter = Counter()  # session id -> calls to the DPoP endpoints
guard_hits: Counter = Counter()  # session id -> calls to the step-up guarded endpoint


def _sid(token: str | None) -> str:
    try:
        return jwt.decode(token or "", options={"verify_signature": False}).get("sid", "")
    except jwt.PyJWTError:
        return ""


def counts_view(request, sid):
    with _lock:
        return JsonResponse({"refreshes": refresh_calls[sid], "rotations": rotations[sid],
                             "expired_hits": expired_hits[sid]})


def nonce_hits_view(request, sid):
    with _lock:
        return JsonResponse({"hits": nonce_hits[sid]})


def guard_hits_view(request, sid):
    with _lock:
        return JsonResponse({"hits": guard_hits[sid]})


class GuardedView(APIView):
    """Behind the app's step-up guard: a sign-in at most 5 minutes old (RFC 9470)."""

    permission_classes = [IsAuthenticated & RecentAuthentication(max_age=300)]

    def initial(self, request, *args, **kwargs):
        token = request.headers.get("Authorization", "").partition(" ")[2]
        with _lock:
            guard_hits[_sid(token)] += 1
        super().initial(request, *args, **kwargs)

    def get(self, request):
        return Response({"ok": True})


def _use_dpop_nonce():
    return JsonResponse({"detail": "The DPoP proof must carry the server's nonce.",
                         "code": "use_dpop_nonce"}, status=401,
                        headers={"WWW-Authenticate": 'DPoP error="use_dpop_nonce"',
                                 dpop.NONCE_HEADER: dpop.current_nonce()})


@csrf_exempt
def dpop_nonce_view(request):
    """Accepts a request whose ``Authorization: DPoP <token>`` comes with a proof the core
    accepts for it, carrying the server's current nonce (else 401 use_dpop_nonce and the
    nonce, RFC 9449 §9). Answers what it verified."""
    token = request.headers.get("Authorization", "").removeprefix("DPoP ")
    with _lock:
        nonce_hits[_sid(token)] += 1
    try:
        proof = dpop.verify_proof(request.headers.get("DPoP"), method=request.method,
                                  uri=request_uri(request), access_token=token)
    except dpop.ProofError as error:
        return JsonResponse({"detail": str(error), "code": error.code}, status=401)
    claims = json_object(request.headers["DPoP"].split(".")[1])
    if not dpop.nonce_is_current(claims.get("nonce")):
        return _use_dpop_nonce()
    return JsonResponse({"jkt": proof.jkt, "htm": proof.htm, "htu": proof.htu})


@csrf_exempt
def always_nonce_view(request):
    """Keeps asking for a new nonce, whatever the proof."""
    with _lock:
        nonce_hits[_sid(request.headers.get("Authorization", "").removeprefix("DPoP "))] += 1
    return _use_dpop_nonce()


@csrf_exempt
def always_expired_view(request):
    """An API that keeps answering 401 token_expired, whatever the token."""
    with _lock:
        expired_hits[_sid(request.headers.get("Authorization", "").removeprefix("Bearer "))] += 1
    return JsonResponse({"detail": "The access token has expired.", "code": "token_expired"},
                        status=401)


@csrf_exempt
def expired_access_view(request):
    """POST {"access": <a genuine access token>} → an access token of the same session and
    profile that expired 5 s ago, signed by the server's key: a client can start from
    "expired" at once, whatever the profile's lifetime."""
    original = jwt.decode(json.loads(request.body)["access"], options={"verify_signature": False})
    pair = {"access": json.loads(request.body)["access"], "session_id": original["sid"]}
    return JsonResponse({"access": access_token(pair, remaining=-5, client=original["client"])})


@csrf_exempt
def aged_access_view(request):
    """POST {"access": <a genuine access token>} → a valid access token of the same session
    (and key binding) whose user authenticated an hour ago (``auth_time``): a step-up guard
    refuses it at once, whatever its ``max_age``."""
    sent = json.loads(request.body)["access"]
    original = jwt.decode(sent, options={"verify_signature": False})
    pair = {"access": sent, "session_id": original["sid"]}
    extra = {name: original[name] for name in ("cnf", "acr", "amr") if name in original}
    now = int(time.time())
    # As long-lived as the profile's tokens (a longer one is refused as not ours).
    lifetime = int(client_profile(original["client"]).access_lifetime.total_seconds())
    aged = craft(access_claims(pair, iat=now, exp=now + lifetime, client=original["client"],
                               auth_time=now - 3600, **extra))
    return JsonResponse({"access": aged})


@csrf_exempt
def unavailable_view(request):
    return JsonResponse({"detail": "The token store is unavailable.",
                         "code": "cache_unavailable"}, status=503)


urlpatterns = [
    *test_urlpatterns,
    path("__test__/counts/<str:sid>/", counts_view),
    path("__test__/always-expired/", always_expired_view),
    path("__test__/down/refresh/", unavailable_view),
    path("__test__/expired-access/", expired_access_view),
    path("__test__/aged-access/", aged_access_view),
    path("__test__/nonce-hits/<str:sid>/", nonce_hits_view),
    path("__test__/guard-hits/<str:sid>/", guard_hits_view),
    path("__test__/guarded/", GuardedView.as_view()),
    path("__test__/dpop-nonce/", dpop_nonce_view),
    path("__test__/always-nonce/", always_nonce_view),
]


@pytest.fixture
def counting_server(live_server, settings, monkeypatch):
    settings.ROOT_URLCONF = __name__
    settings.DOUBLETOKEN = {
        **settings.DOUBLETOKEN,
        # Short, with room for a burst of 20 plus their replays on a loaded 2-core machine
        # (the server floors iat: a "4 s" token may have 3 s left when the client gets it).
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=4),
        "SLIDING_THRESHOLD": timedelta(seconds=2),
        "GRACE_PERIOD": timedelta(seconds=2),
        "LEEWAY": timedelta(0),
        # The burst tests log in with "roomy" and start from an expired token they are handed
        # (__test__/expired-access/): the refreshed token then outlives the burst's replays
        # however slowly a loaded machine serves them, where a 4 s one (3 s after the server
        # floors iat) did not always — a replay past its expiry got a second 401.
        "CLIENT_PROFILES": {"web": {}, "roomy": {"ACCESS_TOKEN_LIFETIME": timedelta(minutes=2)},
                            # Sessions bound to the client's DPoP key (js/dpop-bound.test.mjs).
                            "bound": {"ACCESS_TOKEN_LIFETIME": timedelta(minutes=2),
                                      "DPOP": "optional"}},
    }
    real_refresh = services.refresh

    def counting_refresh(raw_refresh, **kwargs):
        with _lock:
            refresh_calls[_sid(raw_refresh)] += 1
        return real_refresh(raw_refresh, **kwargs)

    def on_refreshed(sender, session, **kwargs):
        with _lock:
            rotations[str(session.pk)] += 1

    monkeypatch.setattr(services, "refresh", counting_refresh)
    signals.session_refreshed.connect(on_refreshed, weak=False)
    yield live_server
    signals.session_refreshed.disconnect(on_refreshed)


def test_node_suite_against_the_live_server(counting_server, user, other_user, password,
                                            tmp_path):
    node = shutil.which("node")
    assert node, "node (20 or later) is needed for the JS client's tests"
    tap = tmp_path / "node.tap"
    env = {
        **os.environ,
        "DOUBLETOKEN_TEST_URL": counting_server.url,
        "DOUBLETOKEN_TEST_USER": user.username,
        "DOUBLETOKEN_TEST_PASSWORD": password,
        # A user of its own for the tests that sign out "every other device" (the other files
        # run side by side with alice's sessions).
        "DOUBLETOKEN_TEST_OTHER_USER": other_user.username,
    }
    if REAL_AXIOS.exists():
        env.setdefault("DOUBLETOKEN_TEST_AXIOS", str(REAL_AXIOS))
    result = subprocess.run(
        # The files mostly wait for tokens to expire: run a few side by side.
        [node, "--test", "--test-concurrency=3",
         "--test-reporter=spec", "--test-reporter-destination=stdout",
         "--test-reporter=tap", f"--test-reporter-destination={tap}", str(JS_TESTS)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    output = f"{result.stdout}\n{result.stderr}"
    print(output)  # shown by pytest when the test fails
    assert result.returncode == 0, f"node --test failed:\n{output}"
    summary = dict(re.findall(r"^# (tests|pass|fail|skipped|todo|cancelled) (\d+)$",
                              tap.read_text(), flags=re.MULTILINE))
    assert int(summary["pass"]) >= 10 and int(summary["tests"]) == int(summary["pass"]), summary
