"""The Python client's DPoP (RFC 9449): its proofs, checked by the server's own verifier
(``django_doubletoken.dpop.check_proof``) on every request a live server receives (login,
refresh, API calls, logout), and its nonce handling (one retry, token endpoint or resource)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import httpx
import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core.signals import request_started

from django_doubletoken import dpop
from django_doubletoken.client import DPoPKey, HttpxAuth, RequestsAuth, TokenStore
from django_doubletoken.client.exchange import bearer_of

from .helpers import access_claims, access_token, craft

pytestmark = pytest.mark.django_db(transaction=True)

KINDS = ["requests", "httpx", "httpx-async"]
ME = "/api/me/"


# --- the proof itself --------------------------------------------------------------------

def _rsa(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@pytest.mark.parametrize("make, alg", [
    (lambda: DPoPKey(), "ES256"),
    (lambda: DPoPKey(ec.generate_private_key(ec.SECP256R1())), "ES256"),
    (lambda: DPoPKey(ed25519.Ed25519PrivateKey.generate()), "EdDSA"),
    (lambda: DPoPKey(_rsa()), "RS256"),
    (lambda: DPoPKey(_rsa(), algorithm="PS256"), "PS256"),
])
def test_proofs_pass_the_servers_verifier(make, alg):
    key = make()
    url = "https://API.example.com:443/api/me/?page=2#top"
    proof = key.proof("get", url, access_token="the-access-token")

    header = jwt.get_unverified_header(proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == alg == key.algorithm
    assert set(header["jwk"]) <= {"kty", "crv", "x", "y", "n", "e"}  # public members only
    claims = jwt.decode(proof, options={"verify_signature": False})
    assert claims["htm"] == "GET"
    assert claims["htu"] == "https://API.example.com:443/api/me/"  # no query, no fragment
    assert abs(claims["iat"] - time.time()) < 5 and "nonce" not in claims
    checked = dpop.check_proof(proof, method="GET", uri="https://api.example.com/api/me/",
                               access_token="the-access-token", jkt=key.thumbprint)
    assert checked.jkt == key.thumbprint == dpop.jwk_thumbprint(header["jwk"])

    with pytest.raises(dpop.ProofError):  # the ath names this token only
        dpop.check_proof(proof, method="GET", uri="https://api.example.com/api/me/",
                         access_token="another-token")
    with pytest.raises(dpop.ProofError):  # and the URL it was made for
        dpop.check_proof(proof, method="GET", uri="https://api.example.com/api/me")


def test_each_proof_is_unique_and_carries_the_origins_nonce():
    key = DPoPKey()
    proofs = [key.proof("POST", "http://h/api/auth/refresh/") for _ in range(50)]
    assert len({jwt.decode(p, options={"verify_signature": False})["jti"]
                for p in proofs}) == 50
    key.remember_nonce("http://h/anything?x", "n-1")
    same = jwt.decode(key.proof("GET", "http://H:80/api/me/"),
                      options={"verify_signature": False})
    other = jwt.decode(key.proof("GET", "http://other/api/me/"),
                       options={"verify_signature": False})
    assert same["nonce"] == "n-1" and "nonce" not in other and "ath" not in same


def test_keys_the_server_would_refuse_are_refused_here():
    with pytest.raises(ValueError, match="2048"):
        DPoPKey(_rsa(1024))
    with pytest.raises(ValueError, match="cannot sign"):
        DPoPKey(ec.generate_private_key(ec.SECP256R1()), algorithm="RS256")
    with pytest.raises(TypeError):
        DPoPKey("not a key")


def test_without_cryptography_only_a_key_is_missing():
    script = (
        "import sys; sys.modules['cryptography'] = None\n"
        "from django_doubletoken.client import DPoPKey, TokenStore\n"
        "TokenStore('a', 'r', base_url='http://x')\n"
        "try:\n"
        "    TokenStore('a', 'r', base_url='http://x', dpop=True)\n"
        "except ImportError as exc:\n"
        "    assert 'pip install django-doubletoken[crypto]' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('no ImportError')\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_bound_session_sends_its_token_with_the_dpop_scheme(pair):
    key = DPoPKey()
    bound = craft(access_claims(pair, cnf={"jkt": key.thumbprint}))
    store = TokenStore(bound, pair["refresh"], base_url="http://x", dpop=key)
    headers = store.authorization("GET", "http://x/api/me/", bound)
    assert headers["Authorization"] == f"DPoP {bound}" and bearer_of(headers) == bound
    dpop.check_proof(headers["DPoP"], method="GET", uri="http://x/api/me/",
                     access_token=bound, jkt=key.thumbprint)

    # An unbound session keeps the Bearer scheme (the proof goes along, harmlessly).
    unbound = TokenStore(pair["access"], pair["refresh"], base_url="http://x", dpop=key)
    assert unbound.authorization("GET", "http://x/", pair["access"])["Authorization"] \
        == f"Bearer {pair['access']}"
    # What the login or refresh response said wins over the token's claims.
    unbound.set_tokens(pair["access"], pair["refresh"], "DPoP")
    assert unbound.bound
    unbound.set_tokens(bound, pair["refresh"], "Bearer")
    assert not unbound.bound
    unbound.set_tokens(bound, pair["refresh"])
    assert unbound.bound
    # Without a key: Bearer and no proof, as before.
    plain = TokenStore(bound, pair["refresh"], base_url="http://x")
    assert plain.authorization("GET", "http://x/", bound) == {"Authorization": f"Bearer {bound}"}


def test_an_auths_dpop_key_joins_its_store_once(pair):
    store = TokenStore(pair["access"], pair["refresh"], base_url="http://x")
    RequestsAuth(store, dpop=True)
    key = store.dpop
    assert isinstance(key, DPoPKey)
    HttpxAuth(store, dpop=True)  # the store's key is kept
    assert store.dpop is key
    HttpxAuth(store, dpop=key.private_key)  # the same key, wrapped anew: fine
    with pytest.raises(ValueError, match="another DPoP key"):
        RequestsAuth(store, dpop=DPoPKey())


# --- every request a live server receives carries a valid proof -------------------------

@pytest.fixture
def base(live_server):
    return live_server.url


@pytest.fixture
def pair(live_server, user, password):
    response = requests.post(f"{live_server.url}/api/auth/login/",
                             json={"username": "alice", "password": password}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def received():
    """What reached the live server: (method, URL, DPoP header, Authorization) per request."""
    seen, lock = [], threading.Lock()

    def receiver(sender, environ=None, **kwargs):
        query = environ.get("QUERY_STRING")
        url = (f"{environ['wsgi.url_scheme']}://{environ['HTTP_HOST']}{environ['PATH_INFO']}"
               + (f"?{query}" if query else ""))
        with lock:
            seen.append((environ["REQUEST_METHOD"], url, environ.get("HTTP_DPOP"),
                         environ.get("HTTP_AUTHORIZATION")))

    request_started.connect(receiver, weak=False)
    yield seen
    request_started.disconnect(receiver)


def _get(kind, store, url):
    if kind == "requests":
        return requests.get(url, auth=RequestsAuth(store), timeout=10)
    if kind == "httpx":
        return httpx.get(url, auth=HttpxAuth(store), timeout=10, follow_redirects=True)

    async def main():
        async with httpx.AsyncClient(auth=HttpxAuth(store), timeout=10,
                                     follow_redirects=True) as client:
            return await client.get(url)

    return asyncio.run(main())


def _login(kind, url, password, **options):
    if kind == "httpx-async":
        return asyncio.run(TokenStore.alogin(url, "alice", password, **options))
    return TokenStore.login(url, "alice", password, **options)


def _logout(kind, store):
    return asyncio.run(store.alogout()) if kind == "httpx-async" else store.logout()


def _check_all(received, key):
    """Every request carried a proof the server's verifier accepts for its method and URL, with
    the hash of the token it carried; no jti twice."""
    jtis = set()
    for method, url, proof, authorization in received:
        assert proof is not None, (method, url)
        token = authorization.partition(" ")[2] if authorization else None
        checked = dpop.check_proof(proof, method=method, uri=url, access_token=token,
                                   jkt=key.thumbprint)
        jtis.add(checked.jti)
    assert len(jtis) == len(received)


@pytest.mark.parametrize("kind", KINDS)
def test_login_api_calls_refresh_and_logout_carry_proofs(kind, base, user, password,
                                                         received):
    store = _login(kind, base, password, dpop=True)
    key = store.dpop
    assert isinstance(key, DPoPKey) and key.algorithm == "ES256"

    assert _get(kind, store, f"{base}{ME}?page=2").status_code == 200
    store.set_tokens(access_token({"access": store.access, "session_id": store.session_id},
                                  remaining=-60), store.refresh)
    assert _get(kind, store, f"{base}{ME}").status_code == 200  # refreshed, then replayed
    assert _logout(kind, store) is True

    paths = [(method, url.removeprefix(base)) for method, url, *_ in received]
    assert paths == [("POST", "/api/auth/login/"), ("GET", f"{ME}?page=2"), ("GET", ME),
                     ("POST", "/api/auth/refresh/"), ("GET", ME), ("POST", "/api/auth/logout/")]
    _check_all(received, key)


# --- nonces: remembered, and one retry when the server asks for one ---------------------

@pytest.mark.urls("tests.client_dpop_urls")
@pytest.mark.parametrize("kind", KINDS)
def test_a_resource_asking_for_a_nonce_gets_it_on_one_retry(kind, base, pair, received):
    store = TokenStore(pair["access"], pair["refresh"], base_url=base, dpop=True)

    first = _get(kind, store, f"{base}/__dpop__/nonce/n-1/")
    assert first.status_code == 200 and len(received) == 2  # refused once, then sent again
    again = _get(kind, store, f"{base}/__dpop__/nonce/n-1/")
    assert again.status_code == 200 and len(received) == 3  # the nonce is known now
    assert store.dpop.nonce_for(base) == "n-1"

    # A server that keeps asking gets one retry, then its answer as it is.
    refused = _get(kind, store, f"{base}/__dpop__/nonce/rotating/")
    assert refused.status_code == 401 and refused.json()["code"] == "use_dpop_nonce"
    assert len(received) == 5
    assert store.tokens is not None  # a proof problem, not the session's: nothing dropped
    _check_all(received, store.dpop)


@pytest.mark.urls("tests.client_dpop_urls")
@pytest.mark.parametrize("kind", KINDS)
def test_token_endpoints_asking_for_a_nonce_get_it_on_one_retry(kind, base, user, password,
                                                                received):
    store = _login(kind, f"{base}/__dpop__/auth/login/", password, dpop=True)
    assert store.refresh_url == f"{base}/__dpop__/auth/refresh/"
    assert [url.removeprefix(base) for _, url, *_ in received] == [
        "/__dpop__/auth/login/"] * 2  # a 400 use_dpop_nonce, then the login with it

    refresh = store.refresh
    store.set_tokens(access_token({"access": store.access, "session_id": store.session_id},
                                  remaining=-60), refresh)
    assert _get(kind, store, f"{base}{ME}").status_code == 200
    assert store.refresh != refresh
    assert [url.removeprefix(base) for _, url, *_ in received[2:]] == [
        ME, "/__dpop__/auth/refresh/", "/__dpop__/auth/refresh/", ME]
    _check_all(received, store.dpop)


# --- end to end against the server's DPoP (DPOP "optional": a proof at login binds) -------


@pytest.fixture
def dpop_on(settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP": "optional"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_bound_session_logs_in_calls_refreshes_and_logs_out(kind, base, user, password,
                                                              dpop_on, received):
    store = _login(kind, base, password, dpop=True)
    assert store.bound
    claims = jwt.decode(store.access, options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": store.dpop.thumbprint}

    assert _get(kind, store, f"{base}{ME}").status_code == 200
    assert received[-1][3] == f"DPoP {store.access}"
    # Expired (the same session and binding): refreshed with a proof of the same key.
    expired = access_token({"access": store.access, "session_id": store.session_id},
                           remaining=-60, cnf={"jkt": store.dpop.thumbprint})
    refresh = store.refresh
    store.set_tokens(expired, refresh)
    assert _get(kind, store, f"{base}{ME}").status_code == 200
    assert store.refresh != refresh and store.bound
    access = store.access
    assert _logout(kind, store) is True
    assert store.tokens is None
    after = requests.get(f"{base}{ME}", timeout=10, headers={
        "Authorization": f"DPoP {access}",
        "DPoP": DPoPKey(store.dpop.private_key).proof("GET", f"{base}{ME}",
                                                      access_token=access)})
    assert after.status_code == 401  # logged out for good
    _check_all(received[:-1], store.dpop)


def test_a_stolen_bound_token_is_useless_without_the_key(base, user, password, dpop_on):
    victim = TokenStore.login(base, "alice", password, dpop=True)
    access, refresh = victim.access, victim.refresh

    # Without a proof, as Bearer, or with the thief's own key: refused.
    bare = requests.get(f"{base}{ME}", headers={"Authorization": f"DPoP {access}"}, timeout=10)
    as_bearer = requests.get(f"{base}{ME}", headers={"Authorization": f"Bearer {access}"},
                             timeout=10)
    thief = TokenStore(access, refresh, base_url=base, dpop=True)
    assert thief.bound  # it sends the token as DPoP, with a proof of the wrong key
    stolen = _get("requests", thief, f"{base}{ME}")
    assert [r.status_code for r in (bare, as_bearer, stolen)] == [401] * 3
    assert stolen.json()["code"] == "invalid_dpop_proof" and thief.tokens is not None

    # The refresh token is bound too: the thief's refresh is refused, the tokens stay as
    # they were (a proof problem is not the end of the session).
    thief.set_tokens(access_token({"access": access, "session_id": victim.session_id},
                                  remaining=-60, cnf={"jkt": victim.dpop.thumbprint}), refresh)
    assert _get("requests", thief, f"{base}{ME}").status_code == 401
    assert thief.refresh == refresh
    # The victim carries on.
    assert _get("requests", victim, f"{base}{ME}").status_code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_a_server_with_nonces_gets_them_at_login_and_after(kind, base, user, password,
                                                           settings, received):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP": "optional", "DPOP_NONCE": True}
    store = _login(kind, base, password, dpop=True)
    assert store.bound and store.dpop.nonce_for(base)
    assert _get(kind, store, f"{base}{ME}").status_code == 200
    assert _logout(kind, store) is True
    # One refused login (400 use_dpop_nonce), then every request with the nonce.
    assert [(m, url.removeprefix(base)) for m, url, *_ in received] == [
        ("POST", "/api/auth/login/"), ("POST", "/api/auth/login/"), ("GET", ME),
        ("POST", "/api/auth/logout/")]


@pytest.mark.parametrize("kind", KINDS)
def test_a_redirect_is_followed_with_a_proof_for_its_target(kind, base, user, password,
                                                            dpop_on, received):
    store = _login(kind, base, password, dpop=True)
    answer = _get(kind, store, f"{base}/api/me")  # APPEND_SLASH: 301 to /api/me/
    assert answer.status_code == 200 and answer.json()["username"] == "alice"
    paths = [url.removeprefix(base) for _, url, *_ in received[1:]]
    # requests signs the next hop before following it; httpx follows with the first hop's
    # proof, which the server refuses, then sends the last hop once more with its own.
    assert paths == (["/api/me", ME] if kind == "requests" else ["/api/me", ME, ME])
    valid = received if kind == "requests" else received[:2] + received[3:]
    _check_all(valid, store.dpop)


@pytest.mark.parametrize("kind", KINDS)
def test_concurrent_expired_bound_requests_share_one_refresh(kind, base, user, password,
                                                             dpop_on, received):
    from .test_client import send  # n concurrent requests of one kind sharing a store

    store = TokenStore.login(base, "alice", password, dpop=True)
    refresh = store.refresh
    store.set_tokens(access_token({"access": store.access, "session_id": store.session_id},
                                  remaining=-60, cnf={"jkt": store.dpop.thumbprint}), refresh)

    results = send(kind, store, base, n=10)

    assert [r.status for r in results] == [200] * 10 and store.bound
    assert [url for _, url, *_ in received].count(f"{base}/api/auth/refresh/") == 1
    assert {r.sent for r in results} == {store.access} and store.refresh != refresh
    _check_all(received, store.dpop)  # 1 login, 10 expired, 1 refresh, 10 replays: all fresh


@pytest.mark.parametrize("kind", KINDS)
def test_a_bound_token_slid_by_the_server_is_picked_up(kind, base, user, password, dpop_on,
                                                       received):
    store = _login(kind, base, password, dpop=True)
    near_expiry = access_token({"access": store.access, "session_id": store.session_id},
                               remaining=60, cnf={"jkt": store.dpop.thumbprint})
    store.set_tokens(near_expiry, store.refresh)

    assert _get(kind, store, f"{base}{ME}").status_code == 200
    slid = store.access
    assert slid != near_expiry and store.bound
    assert jwt.decode(slid, options={"verify_signature": False})["cnf"] == {
        "jkt": store.dpop.thumbprint}  # a slide keeps the binding
    assert _get(kind, store, f"{base}{ME}").status_code == 200
    assert received[-1][3] == f"DPoP {slid}"
    _check_all(received, store.dpop)
