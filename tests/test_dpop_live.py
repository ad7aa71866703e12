"""DPoP against live servers (gunicorn processes on the test's own PostgreSQL/SQLite database
and Redis): concurrent replays with real threads, two hosts sharing the replay store and the
nonces, and an independent client library (requests-oauth2client) end to end."""

import base64
import hashlib
import threading
from urllib.parse import urlsplit

import pytest
import requests
from requests_oauth2client import DPoPKey, DPoPToken

from .dpop_keys import ProofKey
from .servers import app_server

pytestmark = pytest.mark.django_db(transaction=True)

OPTIONAL = {"DPOP": "optional"}
NONCES = {"DPOP": "optional", "DPOP_NONCE": True}


def bound_login(base, password, key, nonce=None, host=None):
    url = f"{base}/api/auth/login/"
    htu = url if host is None else url.replace(urlsplit(base).netloc, host)
    response = requests.post(url, json={"username": "alice", "password": password},
                             headers={"DPoP": key.proof("POST", htu, nonce=nonce),
                                      **({"Host": host} if host else {})}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    return response.json()


def me(base, key, token, *, proof=None, host=None, nonce=None):
    """GET /api/me/ at ``base``, addressed as ``host`` (the Host header: the URL a proof
    names is the one the client addressed)."""
    htu = f"http://{host or urlsplit(base).netloc}/api/me/"
    proof = proof or key.proof("GET", htu, access=token, nonce=nonce)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    if host:
        headers["Host"] = host
    return requests.get(f"{base}/api/me/", headers=headers, timeout=10)


def test_twenty_concurrent_requests_sharing_one_jti_accept_exactly_one(user, password):
    key = ProofKey()
    with app_server(workers=2, threads=8, doubletoken=OPTIONAL) as base:
        pair = bound_login(base, password, key)
        proof = key.proof("GET", f"{base}/api/me/", access=pair["access"])
        start = threading.Barrier(20)
        statuses = []

        def send():
            with requests.Session() as session:  # a connection each: both workers serve
                start.wait()
                response = session.get(f"{base}/api/me/", timeout=30, headers={
                    "Authorization": f"DPoP {pair['access']}", "DPoP": proof})
                statuses.append((response.status_code, response.json().get("code")))

        threads = [threading.Thread(target=send) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses, key=str) == sorted(
            [(200, None)] + [(401, "invalid_dpop_proof")] * 19, key=str)
        # The genuine client goes on with a fresh proof.
        assert me(base, key, pair["access"]).status_code == 200


@pytest.mark.postgres  # in the PostgreSQL run; the SQLite run shares a database file
def test_two_hosts_share_the_replay_store_and_the_nonces_on_postgresql(user, password):
    test_two_hosts_share_the_replay_store_and_the_nonces(user, password)


def test_two_hosts_share_the_replay_store_and_the_nonces(user, password):
    key = ProofKey()
    with app_server(workers=1, doubletoken=NONCES) as a, \
            app_server(workers=1, doubletoken=NONCES) as b:
        host = urlsplit(a).netloc  # both hosts are addressed by one name, as behind a balancer
        # A's nonce, asked for at login.
        asked = requests.post(f"{a}/api/auth/login/", json={"username": "alice",
                              "password": password}, timeout=10,
                              headers={"DPoP": key.proof("POST", f"{a}/api/auth/login/")})
        assert (asked.status_code, asked.json()["code"]) == (400, "use_dpop_nonce")
        nonce = asked.headers["DPoP-Nonce"]
        # B accepts it: at login and on a request.
        pair = bound_login(b, password, key, nonce=nonce, host=host)
        assert me(b, key, pair["access"], host=host, nonce=nonce).status_code == 200
        # A proof used on A is refused on B (and on A again); a fresh one passes on B.
        proof = key.proof("GET", f"http://{host}/api/me/", access=pair["access"], nonce=nonce)
        assert me(a, key, pair["access"], proof=proof).status_code == 200
        replayed = me(b, key, pair["access"], proof=proof, host=host)
        assert (replayed.status_code, replayed.json()["code"]) == (401, "invalid_dpop_proof")
        assert me(a, key, pair["access"], proof=proof).status_code == 401
        assert me(b, key, pair["access"], host=host, nonce=nonce).status_code == 200
        # And the other way round.
        proof = key.proof("GET", f"http://{host}/api/me/", access=pair["access"], nonce=nonce)
        assert me(b, key, pair["access"], proof=proof, host=host).status_code == 200
        assert me(a, key, pair["access"], proof=proof).status_code == 401


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_requests_oauth2client_end_to_end_with_nonces(alg, user, password):
    """Every proof made by requests-oauth2client's DPoPKey (jwskate underneath); the
    resource requests signed by its DPoPToken auth handler, which also answers our
    use_dpop_nonce challenge by itself (its retry reads WWW-Authenticate and DPoP-Nonce)."""
    key = DPoPKey.generate(alg=alg)
    with app_server(workers=1, doubletoken=NONCES) as base:
        login_url = f"{base}/api/auth/login/"
        body = {"username": "alice", "password": password}
        asked = requests.post(login_url, json=body, timeout=10,
                              headers={"DPoP": str(key.proof(htm="POST", htu=login_url))})
        assert asked.status_code == 400
        key.handle_as_provided_dpop_nonce(asked)
        pair = requests.post(login_url, json=body, timeout=10, headers={
            "DPoP": str(key.proof(htm="POST", htu=login_url, nonce=key.as_nonce))}).json()
        assert pair["token_type"] == "DPoP"

        token = DPoPToken(pair["access"], _dpop_key=key)
        response = requests.get(f"{base}/api/me/", auth=token, timeout=10)
        assert response.status_code == 200, response.text  # after one automatic retry
        assert key.rs_nonce == key.as_nonce  # the nonce it was asked for: A's, the same

        refresh_url = f"{base}/api/auth/refresh/"
        refreshed = requests.post(refresh_url, json={"refresh": pair["refresh"]}, timeout=10,
                                  headers={"DPoP": str(key.proof(htm="POST", htu=refresh_url,
                                                                 nonce=key.as_nonce))})
        assert refreshed.status_code == 200 and refreshed.json()["token_type"] == "DPoP"
        new = DPoPToken(refreshed.json()["access"], _dpop_key=key)
        assert requests.get(f"{base}/api/me/", auth=new, timeout=10).status_code == 200
        # Signed by another key, the token is refused (sent by hand: the library's hook
        # takes any DPoP 401 for a nonce request and raises when none comes).
        stranger = DPoPKey.generate(alg=alg)
        access = refreshed.json()["access"]
        refused = signed_get(base, access, stranger, key.rs_nonce)
        assert (refused.status_code, refused.json()["code"]) == (401, "invalid_dpop_proof")
        logout = requests.post(f"{base}/api/auth/logout/", auth=new, timeout=10)
        assert logout.status_code == 204
        gone = signed_get(base, access, key, key.rs_nonce)
        assert (gone.status_code, gone.json()["code"]) == (401, "session_revoked")


def signed_get(base, access, key, nonce):
    url = f"{base}/api/me/"
    ath = base64.urlsafe_b64encode(hashlib.sha256(access.encode()).digest()).rstrip(b"=")
    proof = key.proof(htm="GET", htu=url, ath=ath.decode(), nonce=nonce)
    return requests.get(url, timeout=10, headers={"Authorization": f"DPoP {access}",
                                                  "DPoP": str(proof)})
