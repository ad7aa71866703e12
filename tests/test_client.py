"""The Python client (requests, httpx sync, httpx async) against a live server, real threads."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import requests
from django.core.signals import request_started

from django_doubletoken import services, signals
from django_doubletoken.authentication import DoubleTokenAuthentication
from django_doubletoken.client import (
    LOGOUT_CODES,
    RENEW_CODES,
    STEP_UP_CODES,
    HttpxAuth,
    LoginFailed,
    RequestFailed,
    RequestsAuth,
    StepUpRequired,
    StoredTokens,
    TokenStore,
)
from django_doubletoken.client.exchange import bearer_of, code_of
from django_doubletoken.errors import (
    CACHE_UNAVAILABLE,
    TOKEN_EXPIRED,
    ServiceUnavailable,
    TokenError,
)

from .helpers import access_token

pytestmark = pytest.mark.django_db(transaction=True)

KINDS = ["requests", "httpx", "httpx-async"]
ME = "/api/me/"
REFRESH = "/api/auth/refresh/"


@dataclass
class Outcome:
    status: int
    code: str | None
    replayed: bool
    sent: str | None  # the access token the last request carried


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


def _outcome(response) -> Outcome:
    return Outcome(response.status_code, code_of(_json(response)), bool(response.history),
                   bearer_of(response.request.headers))


def _in_threads(call, n):
    barrier = threading.Barrier(n)  # all start together, so all carry the same token

    def start(_):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(start, range(n)))


def send(kind, store, base, *, n=1, method="GET", path=ME, streamed=False) -> list[Outcome]:
    """n concurrent requests through one client of ``kind`` sharing ``store``.

    ``streamed``: the body is a stream (not replayable), with a Content-Length so the test
    server reads it like any other body.
    """
    url = base + path
    if kind == "requests":
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=n))
        session.auth = RequestsAuth(store)

        def call():
            data = io.BytesIO(b"{}") if streamed else None
            return session.request(method, url, data=data, timeout=30)

        with session:
            return [_outcome(r) for r in _in_threads(call, n)]

    headers = {"Content-Length": "2"} if streamed else {}
    if kind == "httpx":
        with httpx.Client(auth=HttpxAuth(store), timeout=30) as client:
            def call():
                content = iter([b"{}"]) if streamed else None
                return client.request(method, url, content=content, headers=headers)

            return [_outcome(r) for r in _in_threads(call, n)]

    async def body():
        yield b"{}"

    async def main():
        async with httpx.AsyncClient(auth=HttpxAuth(store), timeout=30) as client:
            return await asyncio.gather(*(
                client.request(method, url, content=body() if streamed else None,
                               headers=headers)
                for _ in range(n)
            ))

    return [_outcome(r) for r in asyncio.run(main())]


@pytest.fixture
def base(live_server):
    return live_server.url


@pytest.fixture
def pair(base, user, password):
    response = requests.post(f"{base}/api/auth/login/",
                             json={"username": "alice", "password": password}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def refreshes():
    """Sessions rotated by the server: one entry per real refresh (not grace-window replays)."""
    seen = []

    def receiver(sender, session, **kwargs):
        seen.append(session.refresh_generation)

    signals.session_refreshed.connect(receiver, weak=False)
    yield seen
    signals.session_refreshed.disconnect(receiver)


@pytest.fixture
def hits():
    """Requests reaching the live server, by path."""
    counter, lock = Counter(), threading.Lock()

    def receiver(sender, environ=None, **kwargs):
        with lock:
            counter[environ["PATH_INFO"]] += 1

    request_started.connect(receiver, weak=False)
    yield counter
    request_started.disconnect(receiver)


class Recorder:
    """on_tokens and on_logout, recorded."""

    def __init__(self):
        self.tokens: list[StoredTokens] = []
        self.logouts: list[str | None] = []

    def hooks(self):
        return {"on_tokens": self.tokens.append, "on_logout": self.logouts.append}


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def expired_store(pair, base, recorder):
    """A store whose access token expired a minute ago (past the leeway), refresh token good."""
    return TokenStore(access_token(pair, remaining=-60), pair["refresh"], base_url=base,
                      **recorder.hooks())


@pytest.mark.parametrize("kind", KINDS)
def test_concurrent_expired_requests_share_one_refresh(
    kind, base, expired_store, pair, recorder, refreshes, hits
):
    def slow(sender, **kwargs):
        # The refresh answers only once all 20 requests have reached the server, so every one
        # of them was sent with the expired token.
        deadline = time.monotonic() + 10
        while hits[ME] < 20 and time.monotonic() < deadline:
            time.sleep(0.01)

    signals.session_refreshed.connect(slow, weak=False)
    try:
        results = send(kind, expired_store, base, n=20)
    finally:
        signals.session_refreshed.disconnect(slow)

    assert [r.status for r in results] == [200] * 20
    assert refreshes == [1]
    assert hits[REFRESH] == 1
    assert all(r.replayed for r in results)
    assert hits[ME] == 40  # 20 with the expired token, each replayed once
    new = expired_store.tokens
    assert new.refresh != pair["refresh"]
    assert {r.sent for r in results} == {new.access}
    assert recorder.tokens == [new] and recorder.logouts == []


@pytest.mark.parametrize("kind", KINDS)
def test_slid_token_is_picked_up_and_used_next(kind, base, pair, recorder, refreshes, hits):
    near_expiry = access_token(pair, remaining=60)  # below the 5 min sliding threshold
    store = TokenStore(near_expiry, pair["refresh"], base_url=base, **recorder.hooks())

    first, = send(kind, store, base)
    assert first.status == 200 and first.sent == near_expiry
    slid = store.access
    assert slid != near_expiry
    assert recorder.tokens == [StoredTokens(slid, pair["refresh"])]

    second, = send(kind, store, base)
    assert second.status == 200 and second.sent == slid
    assert store.access == slid  # a fresh token is not slid again
    assert refreshes == [] and hits[REFRESH] == 0 and hits[ME] == 2


def test_new_token_header_name_is_configurable(base, pair, settings, recorder):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "NEW_TOKEN_HEADER": "X-New-Token"}
    near_expiry = access_token(pair, remaining=60)
    default = TokenStore(near_expiry, pair["refresh"], base_url=base)
    send("requests", default, base)
    assert default.access == near_expiry  # the default header name is not there

    store = TokenStore(near_expiry, pair["refresh"], base_url=base,
                       new_token_header="X-New-Token", **recorder.hooks())
    send("requests", store, base)
    assert store.access != near_expiry
    assert recorder.tokens == [StoredTokens(store.access, pair["refresh"])]


@pytest.mark.parametrize("kind", KINDS)
def test_refused_refresh_logs_out_once(kind, base, pair, expired_store, recorder, refreshes,
                                       hits):
    services.revoke_session(pair["session_id"], "admin")

    results = send(kind, expired_store, base, n=5)

    assert [(r.status, r.code, r.replayed) for r in results] == [(401, TOKEN_EXPIRED, False)] * 5
    assert recorder.logouts == ["session_revoked"]
    assert expired_store.access is None and expired_store.refresh is None
    assert expired_store.tokens is None and recorder.tokens == []
    assert hits[REFRESH] == 1 and hits[ME] == 5 and refreshes == []

    # Logged out: the next request goes without a token and nothing tries to refresh.
    after, = send(kind, expired_store, base)
    assert after.status == 401 and after.sent is None
    assert hits[REFRESH] == 1 and hits[ME] == 6 and recorder.logouts == ["session_revoked"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_401_on_the_replay_is_returned_as_is(kind, base, pair, expired_store, recorder,
                                               refreshes, hits, monkeypatch):
    def always_expired(self, request):
        raise TokenError(TOKEN_EXPIRED)

    monkeypatch.setattr(DoubleTokenAuthentication, "authenticate", always_expired)

    result, = send(kind, expired_store, base)

    assert (result.status, result.code, result.replayed) == (401, TOKEN_EXPIRED, True)
    assert refreshes == [1] and hits[REFRESH] == 1 and hits[ME] == 2
    assert recorder.logouts == []
    assert expired_store.refresh != pair["refresh"]  # the refresh itself worked: kept
    assert result.sent == expired_store.access


@pytest.mark.parametrize("kind", KINDS)
def test_unavailable_refresh_keeps_the_tokens(kind, base, expired_store, recorder, hits,
                                              monkeypatch):
    def unavailable(raw_refresh, *, request=None):
        raise ServiceUnavailable(CACHE_UNAVAILABLE)

    monkeypatch.setattr(services, "refresh", unavailable)
    before = expired_store.tokens

    result, = send(kind, expired_store, base)

    # The caller gets the original 401; the tokens stay for a later request to refresh.
    assert (result.status, result.code, result.replayed) == (401, TOKEN_EXPIRED, False)
    assert result.sent == before.access
    assert expired_store.tokens == before
    assert recorder.logouts == [] and recorder.tokens == []
    assert hits[REFRESH] == 1 and hits[ME] == 1

    monkeypatch.undo()  # the cache is back: the next request refreshes and succeeds
    again, = send(kind, expired_store, base)
    assert again.status == 200 and again.replayed
    assert expired_store.tokens != before and len(recorder.tokens) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_network_error_on_refresh_raises_and_keeps_the_tokens(kind, base, pair, recorder):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = TokenStore(access_token(pair, remaining=-60), pair["refresh"],
                       refresh_url=f"http://127.0.0.1:{port}/api/auth/refresh/",
                       **recorder.hooks())
    before = store.tokens

    error = requests.ConnectionError if kind == "requests" else httpx.ConnectError
    with pytest.raises(error):
        send(kind, store, base)
    assert store.tokens == before
    assert recorder.logouts == [] and recorder.tokens == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_streamed_body_is_not_replayed(kind, base, expired_store, refreshes, hits):
    before = expired_store.tokens

    result, = send(kind, expired_store, base, method="POST", streamed=True)

    # Refreshed, but the stream is spent: the 401 comes back and the caller sends again.
    assert (result.status, result.code, result.replayed) == (401, TOKEN_EXPIRED, False)
    assert refreshes == [1] and hits[ME] == 1
    assert expired_store.tokens != before

    again, = send(kind, expired_store, base)
    assert again.status == 200 and not again.replayed and refreshes == [1]


def test_login_and_restoring_persisted_tokens(base, user, password):
    saved = {}

    def persist(pair: StoredTokens):
        saved.update(access=pair.access, refresh=pair.refresh)

    store = TokenStore.login(base, "alice", password, device="cli", on_tokens=persist)
    assert saved == {"access": store.access, "refresh": store.refresh}
    expires_in = store.tokens.access_expires_at.timestamp() - time.time()
    assert 14 * 60 < expires_in <= 15 * 60
    assert "access" not in repr(store.tokens)  # tokens stay out of logs

    # Next run of the app: a store from what was saved.
    restored = TokenStore(saved["access"], saved["refresh"], base_url=base)
    me = requests.get(f"{base}{ME}", auth=RequestsAuth(restored), timeout=10)
    assert me.json() == {"id": user.pk, "username": "alice"}
    sessions = requests.get(f"{base}/api/auth/sessions/", auth=RequestsAuth(restored),
                            timeout=10).json()
    assert [s["device"] for s in sessions] == ["cli"]

    # The login URL itself works too, and gives the refresh URL next to it.
    mobile = TokenStore.login(f"{base}/api/auth/login/", "alice", password, client="mobile")
    assert mobile.refresh_url == f"{base}/api/auth/refresh/"

    with pytest.raises(LoginFailed) as failed:
        TokenStore.login(base, "alice", "wrong password")
    assert failed.value.status_code == 401 and failed.value.code == "invalid_credentials"


def test_the_module_imports_without_requests_or_httpx():
    script = (
        "import sys; sys.modules['requests'] = sys.modules['httpx'] = None\n"
        "import django_doubletoken.client as client\n"
        "store = client.TokenStore('a', 'r', base_url='http://x')\n"
        "assert store.refresh_url == 'http://x/api/auth/refresh/'\n"
        "for name in ('RequestsAuth', 'HttpxAuth'):\n"
        "    try:\n"
        "        getattr(client, name)\n"
        "    except ImportError as exc:\n"
        "        assert 'pip install' in str(exc)\n"
        "    else:\n"
        "        raise AssertionError(name)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# --- one rule for every 401 code, shared with the JS client (tests/js/codes.test.mjs) ----

CODE_RULE = {code: action for code, action in
             json.loads((Path(__file__).parent / "error_codes.json").read_text()).items()
             if not code.startswith("_")}


def test_the_rule_table_is_the_clients_own():
    assert {c for c, action in CODE_RULE.items() if action == "refresh"} == RENEW_CODES
    assert {c for c, action in CODE_RULE.items() if action == "logout"} == LOGOUT_CODES


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("code", sorted(CODE_RULE))
def test_what_each_401_code_makes_the_client_do(kind, code, base, pair, recorder, refreshes,
                                                hits):
    store = TokenStore(pair["access"], pair["refresh"], base_url=base, **recorder.hooks())
    path = f"/__test__/unauthorized/{code}/"

    if code in STEP_UP_CODES:  # returned as it is, raised as the typed error
        with pytest.raises(StepUpRequired) as raised:
            send(kind, store, base, path=path)
        result = _outcome(raised.value.response)
        assert raised.value.code == code
    else:
        result, = send(kind, store, base, path=path)

    assert (result.status, result.code) == (401, code)
    action = CODE_RULE[code]
    if action == "refresh":  # one refresh, one replay (which gets the same 401: no loop)
        assert refreshes == [1] and hits[path] == 2 and result.replayed
        assert store.access not in (None, pair["access"]) and recorder.logouts == []
    elif action == "logout":  # no refresh: the tokens are dropped, the app told why
        assert refreshes == [] and hits[path] == 1 and not result.replayed
        assert store.tokens is None and recorder.logouts == [code]
    else:  # returned as it is, the tokens kept
        assert action == "return"
        assert refreshes == [] and hits[path] == 1 and not result.replayed
        assert store.access == pair["access"] and recorder.logouts == []
    assert hits[REFRESH] == len(refreshes)


@pytest.mark.parametrize("code", sorted(c for c, a in CODE_RULE.items() if a != "return"))
def test_a_token_replaced_meanwhile_is_used_whatever_the_code(code, pair, recorder):
    store = TokenStore(pair["access"], pair["refresh"], base_url="http://unused",
                       **recorder.hooks())

    def post(url, payload):
        raise AssertionError("no refresh: a newer token is stored")

    assert store.recover("an older token", code, post) == pair["access"]
    assert store.recover("an older token", code, post, replayed=True) is None
    assert asyncio.run(store.arecover("an older token", code, post)) == pair["access"]
    assert store.tokens == StoredTokens(pair["access"], pair["refresh"])
    assert recorder.logouts == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_replay_refused_for_good_logs_out(kind, base, expired_store, recorder, pair,
                                            monkeypatch):
    """The refresh worked, but the replay is told the session is over (revoked meanwhile)."""
    expired = expired_store.access
    real_authenticate = DoubleTokenAuthentication.authenticate

    def revoke_on_replay(self, request):
        if request.META.get("HTTP_AUTHORIZATION") != f"Bearer {expired}":
            raise TokenError("session_revoked")
        return real_authenticate(self, request)

    monkeypatch.setattr(DoubleTokenAuthentication, "authenticate", revoke_on_replay)

    result, = send(kind, expired_store, base)

    assert (result.status, result.code, result.replayed) == (401, "session_revoked", True)
    assert expired_store.tokens is None and recorder.logouts == ["session_revoked"]


# --- account calls: logout(), logout_all(), sessions(), revoke_session() -----------------

def _store_for(base, password, device, recorder=None):
    hooks = recorder.hooks() if recorder else {}
    return TokenStore.login(base, "alice", password, device=device, **hooks)


def _me_status(base, token):
    return requests.get(base + ME, headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code


def test_sessions_and_revoke_session(base, user, password, recorder):
    phone = _store_for(base, password, "phone")
    laptop = _store_for(base, password, "laptop", recorder)

    sessions = laptop.sessions()
    assert {s["device"]: s["current"] for s in sessions} == {"phone": False, "laptop": True}
    assert laptop.session_id == next(s["id"] for s in sessions if s["current"])

    assert laptop.revoke_session(phone.session_id) is True
    assert _me_status(base, phone.access) == 401
    assert laptop.revoke_session(phone.session_id) is True  # idempotent, as DELETE is
    assert laptop.revoke_session(str(uuid.uuid4())) is False  # not one of the user's
    assert laptop.revoke_session("not-a-session") is False
    assert [s["device"] for s in laptop.sessions()] == ["laptop"]

    # Its own id: like logout(), the tokens go (on_logout is for logouts the app did not ask).
    access = laptop.access
    assert laptop.revoke_session(laptop.session_id) is True
    assert laptop.tokens is None and recorder.logouts == []
    assert _me_status(base, access) == 401

    with pytest.raises(RequestFailed) as refused:
        laptop.sessions()
    assert refused.value.status_code == 401


def test_logout_and_logout_all(base, user, password):
    phone = _store_for(base, password, "phone")
    laptop = _store_for(base, password, "laptop")
    tablet = _store_for(base, password, "tablet")
    access = laptop.access

    assert laptop.logout() is True
    assert laptop.tokens is None and _me_status(base, access) == 401
    assert laptop.logout() is False  # nothing to log out
    assert _me_status(base, phone.access) == 200

    assert phone.logout_all() is True
    assert phone.tokens is None
    assert _me_status(base, tablet.access) == 401  # every device


def test_logout_with_an_expired_token_refreshes_first(base, pair, expired_store, recorder,
                                                      refreshes):
    assert expired_store.logout() is True
    assert refreshes == [1]  # token_expired: refreshed, replayed, then the tokens forgotten
    assert expired_store.tokens is None and recorder.logouts == []
    assert _me_status(base, access_token(pair)) == 401  # the session is revoked


def test_logout_without_a_server_still_forgets_the_tokens(pair):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = TokenStore(pair["access"], pair["refresh"], base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(requests.ConnectionError):
        store.logout(timeout=2)
    assert store.tokens is None


def test_account_calls_need_the_endpoints_next_to_the_refresh_url(pair):
    store = TokenStore(pair["access"], pair["refresh"], refresh_url="http://x/token-refresh")
    with pytest.raises(ValueError, match="does not end in /refresh/"):
        store.sessions()


def test_async_account_calls(base, user, password):
    phone = _store_for(base, password, "phone")
    laptop = _store_for(base, password, "laptop")
    tablet = _store_for(base, password, "tablet")

    async def main():
        devices = {s["device"] for s in await laptop.asessions()}
        revoked = await laptop.arevoke_session(phone.session_id)
        missing = await laptop.arevoke_session(str(uuid.uuid4()))
        logged_out = await laptop.alogout()
        everywhere = await tablet.alogout_all()
        return devices, revoked, missing, logged_out, everywhere

    assert asyncio.run(main()) == ({"phone", "laptop", "tablet"}, True, False, True, True)
    assert laptop.tokens is None and tablet.tokens is None
    assert _me_status(base, phone.access) == 401
