"""The Python client and step-up (RFC 9470) against a live server: a guard's refusal raises
``StepUpRequired`` (nothing refreshed, nothing dropped), ``reauthenticate()`` renews the same
session's authentication, and ``logout_others()`` signs out every other device."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import requests

from django_doubletoken.client import (
    HttpxAuth,
    ReauthenticationFailed,
    RequestsAuth,
    StepUpRequired,
    StoredTokens,
    TokenStore,
)

from .helpers import access_claims, craft

pytestmark = pytest.mark.django_db(transaction=True)


KINDS = ["requests", "httpx", "httpx-async"]
GUARDED = "/stepup/drf/"  # RecentAuthentication(max_age=300)
ME = "/api/me/"


def test_the_challenge_is_read_when_the_body_does_not_say():
    body = {"detail": "...", "code": "insufficient_user_authentication"}
    error = StepUpRequired(401, body, 'Bearer realm="api", error="insufficient_user_'
                           'authentication", error_description="x", acr_values="mfa hwk", '
                           "max_age=300")
    assert (error.max_age, error.acr_values, error.code) == (300, ("mfa", "hwk"),
                                                            "insufficient_user_authentication")
    bare = StepUpRequired(401, {**body, "max_age": 60})
    assert (bare.max_age, bare.acr_values) == (60, ())


@pytest.fixture
def base(live_server):
    return live_server.url


def _login(base, password, device):
    return TokenStore.login(base, "alice", password, device=device)


def _signed_in_long_ago(store, **hooks):
    """The store's session, with an access token whose login is an hour old."""
    pair = {"access": store.access, "session_id": store.session_id}
    old = craft(access_claims(pair, auth_time=int(time.time()) - 3600))
    return TokenStore(old, store.refresh, refresh_url=store.refresh_url, **hooks)


def _call(kind, store, method, url, **kwargs):
    if kind == "requests":
        return requests.request(method, url, auth=RequestsAuth(store), timeout=10, **kwargs)
    if kind == "httpx":
        return httpx.request(method, url, auth=HttpxAuth(store), timeout=10, **kwargs)

    async def main():
        async with httpx.AsyncClient(auth=HttpxAuth(store), timeout=10) as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(main())


def _reauthenticate(kind, store, password):
    if kind == "httpx-async":
        return asyncio.run(store.areauthenticate(password))
    return store.reauthenticate(password)


@pytest.mark.parametrize("kind", KINDS)
def test_a_guard_raises_step_up_and_reauthenticate_cures_it(kind, base, user, password):
    changes, logouts = [], []
    store = _signed_in_long_ago(_login(base, password, "cli"), on_tokens=changes.append,
                                on_logout=logouts.append)
    before = store.tokens

    with pytest.raises(StepUpRequired) as raised:
        _call(kind, store, "GET", base + GUARDED)
    step_up = raised.value
    assert (step_up.status_code, step_up.code, step_up.max_age) == (
        401, "insufficient_user_authentication", 300)
    assert step_up.response.status_code == 401
    assert store.tokens == before and changes == [] and logouts == []  # nothing renewed

    with pytest.raises(ReauthenticationFailed) as refused:
        _reauthenticate(kind, store, "wrong password")
    assert (refused.value.status_code, refused.value.code) == (401, "invalid_credentials")
    assert store.tokens == before and logouts == []

    renewed = _reauthenticate(kind, store, password)
    assert isinstance(renewed, StoredTokens) and store.tokens == renewed
    assert renewed.session_id == before.session_id  # the same session, no new login
    assert renewed.refresh != before.refresh and changes == [renewed]
    answer = _call(kind, store, "GET", base + GUARDED)
    assert answer.status_code == 200 and answer.json()["sid"] == before.session_id


@pytest.mark.parametrize("kind", ["requests", "httpx-async"])
def test_logout_others_keeps_this_session(kind, base, user, password):
    phone = _login(base, password, "phone")
    tablet = _login(base, password, "tablet")
    laptop = _login(base, password, "laptop")

    if kind == "httpx-async":
        revoked = asyncio.run(laptop.alogout_others())
    else:
        revoked = laptop.logout_others()

    assert revoked == 2
    for other in (phone, tablet):
        assert _call("requests", other, "GET", base + ME).status_code == 401
    assert _call(kind, laptop, "GET", base + ME).status_code == 200
    assert [s["device"] for s in laptop.sessions()] == ["laptop"]


def test_logout_others_behind_a_guard_asks_for_a_step_up(base, user, password):
    """The example project asks for a recent sign-in before signing the other devices out."""
    phone = _login(base, password, "phone")
    laptop = _signed_in_long_ago(_login(base, password, "laptop"))

    with pytest.raises(StepUpRequired):
        laptop.logout_others()
    assert _call("requests", phone, "GET", base + ME).status_code == 200  # nothing done

    laptop.reauthenticate(password)
    assert laptop.logout_others() == 1
    assert _call("requests", phone, "GET", base + ME).status_code == 401
    assert _call("requests", laptop, "GET", base + ME).status_code == 200


def _concurrently(kind, store, url, n, on_step_up):
    if kind == "httpx-async":
        async def main():
            auth = HttpxAuth(store, on_step_up=on_step_up)
            async with httpx.AsyncClient(auth=auth, timeout=30) as client:
                return await asyncio.gather(*(client.get(url) for _ in range(n)))

        return asyncio.run(main())
    barrier = threading.Barrier(n)  # all start together, so all carry the old token
    if kind == "requests":
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=n))
        session.auth = RequestsAuth(store, on_step_up=on_step_up)
        get = session.get
    else:
        client = httpx.Client(auth=HttpxAuth(store, on_step_up=on_step_up), timeout=30)
        get = client.get

    def call(_):
        barrier.wait()
        return get(url, timeout=30)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(call, range(n)))


@pytest.mark.parametrize("kind", KINDS)
def test_on_step_up_asks_once_for_requests_refused_together(kind, base, user, password):
    store = _signed_in_long_ago(_login(base, password, "cli"))
    session_id = store.session_id
    asked = []

    if kind == "httpx-async":
        async def confirm(error):
            asked.append(error.max_age)
            await store.areauthenticate(password)
            return True
    else:
        def confirm(error):
            asked.append(error.max_age)
            store.reauthenticate(password)
            return True

    answers = _concurrently(kind, store, base + GUARDED, 5, confirm)

    assert [a.status_code for a in answers] == [200] * 5 and asked == [300]
    assert {a.json()["sid"] for a in answers} == {session_id}


@pytest.mark.parametrize("kind", KINDS)
def test_on_step_up_declining_raises(kind, base, user, password):
    store = _signed_in_long_ago(_login(base, password, "cli"))
    before, asked = store.tokens, []

    def decline(error):
        asked.append(error)
        return False

    with pytest.raises(StepUpRequired):
        _concurrently(kind, store, base + GUARDED, 1, decline)
    assert len(asked) == 1 and store.tokens == before


def test_a_bound_session_steps_up_with_proofs(base, user, password, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP": "optional"}
    fresh = TokenStore.login(base, "alice", password, dpop=True)
    pair = {"access": fresh.access, "session_id": fresh.session_id}
    old = craft(access_claims(pair, auth_time=int(time.time()) - 3600,
                              cnf={"jkt": fresh.dpop.thumbprint}))
    store = TokenStore(old, fresh.refresh, refresh_url=fresh.refresh_url, dpop=fresh.dpop)
    assert store.bound

    with pytest.raises(StepUpRequired):
        _call("requests", store, "GET", base + GUARDED)
    store.reauthenticate(password)  # POST reauthenticate/ with the DPoP scheme and a proof
    assert store.bound and store.session_id == fresh.session_id
    assert _call("httpx", store, "GET", base + GUARDED).status_code == 200
    # Without the key, the renewed token is refused.
    stolen = requests.get(base + GUARDED, headers={"Authorization": f"Bearer {store.access}"},
                          timeout=10)
    assert stolen.status_code == 401
