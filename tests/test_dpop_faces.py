"""DPoP wired into every face: binding at login, proofs on every authenticated request (DRF,
Ninja sync and async, plain views and their mixin, ADRF, the sliding middleware's own check),
bound refresh, nonces and challenges; each attack refused with its code and nothing changed.
The proofs are made by ``tests.dpop_keys`` (PyJWT and cryptography, not the app's code)."""

import hashlib
import hmac
import json
import time

import jwt
import pytest
from django.test import Client
from django_redis import get_redis_connection

from django_doubletoken import dpop
from django_doubletoken.models import DeviceSession

from .dpop_keys import ProofKey, b64url
from .helpers import access_token

pytestmark = pytest.mark.django_db

BASE = "http://testserver"
ALGS = 'DPoP algs="ES256 EdDSA RS256 PS256"'
# Every face that authenticates an access token (tests/urls.py, tests/ninja_api.py).
FACES = {
    "drf": "/api/me/",
    "ninja": "/api/ninja/me",
    "ninja-sync": "/ninja-tests/sync",
    "ninja-async": "/ninja-tests/async",
    "plain": "/bearer/",
    "plain-async": "/bearer/async/",
    "mixin": "/bearer/class/",
    "mixin-async": "/bearer/async-class/",
    "adrf": "/adrf/me/",
}


@pytest.fixture
def optional(settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP": "optional"}


@pytest.fixture
def key():
    return ProofKey()


def replay_records():
    return get_redis_connection("default").keys("*:dpop:*")


def login(http, password, key=None, path="/api/auth/login/", **body):
    extra = {"HTTP_DPOP": key.proof("POST", BASE + path)} if key else {}
    return http.post(path, {"username": "alice", "password": password, **body},
                       content_type="application/json", **extra)


def bound_pair(password, key):
    response = login(Client(), password, key)
    assert response.status_code == 200, response.content
    return response.json()


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def get(path, key, token, **options):
    return Client().get(path, **key.headers("GET", BASE + path, token, **options))


# --- binding ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/auth/login/", "/api/ninja/auth/login/"])
def test_a_login_with_a_proof_binds_the_session(path, user, password, key, optional):
    response = login(Client(), password, key, path)
    assert response.status_code == 200, response.content
    pair = response.json()
    assert pair["token_type"] == "DPoP"
    assert claims(pair["access"])["cnf"] == {"jkt": key.jkt}
    assert claims(pair["refresh"])["cnf"] == {"jkt": key.jkt}
    assert DeviceSession.objects.get(pk=pair["session_id"]).dpop_jkt == key.jkt
    assert len(replay_records()) == 1  # the login's proof cannot be used again


def test_without_a_proof_an_optional_login_is_a_bearer_session(user, password, optional):
    pair = login(Client(), password).json()
    assert pair["token_type"] == "Bearer" and "cnf" not in claims(pair["access"])
    assert DeviceSession.objects.get(pk=pair["session_id"]).dpop_jkt == ""


def test_dpop_off_ignores_a_proof(user, password, key):
    response = login(Client(), password, key)
    assert response.json()["token_type"] == "Bearer" and "cnf" not in claims(
        response.json()["access"])
    assert replay_records() == []


def test_a_required_login_without_a_proof_opens_nothing(user, password, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP": "required"}
    response = login(Client(), password)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_dpop_proof")
    assert response["WWW-Authenticate"].startswith(ALGS)
    assert not DeviceSession.objects.exists()


def test_a_profile_decides_its_own_mode(user, password, key, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "CLIENT_PROFILES": {
        "web": {}, "mobile": {"DPOP": "required"}}}
    assert login(Client(), password, key).json()["token_type"] == "Bearer"  # web: off
    assert login(Client(), password, client="mobile").status_code == 401
    assert login(Client(), password, ProofKey(), client="mobile").json()["token_type"] == "DPoP"


def test_a_wrong_proof_at_an_optional_login_is_refused_not_ignored(user, password, optional):
    response = Client().post("/api/auth/login/", {"username": "alice", "password": password},
                             content_type="application/json",
                             HTTP_DPOP=ProofKey().proof("POST", BASE + "/api/auth/login"))
    assert (response.status_code, response.json()["code"]) == (401, "invalid_dpop_proof")
    assert not DeviceSession.objects.exists() and replay_records() == []


def test_sign_up_through_login_response_binds_too(db, password, key, optional):
    path = "/api/signup/"
    response = Client().post(path, {"username": "carol", "password": password,
                                    "email": "carol@example.com"},
                             content_type="application/json",
                             HTTP_DPOP=key.proof("POST", BASE + path))
    assert response.status_code in (200, 201), response.content
    assert response.json()["token_type"] == "DPoP"
    assert claims(response.json()["access"])["cnf"] == {"jkt": key.jkt}


# --- every face verifies alike ------------------------------------------------------------

@pytest.mark.parametrize("face", FACES)
def test_every_face_accepts_a_bound_token_with_its_proof_once(face, user, password, key,
                                                               optional):
    pair = bound_pair(password, key)
    path = FACES[face]
    headers = key.headers("GET", BASE + path, pair["access"])
    assert Client().get(path, **headers).status_code == 200
    replayed = Client().get(path, **headers)
    assert (replayed.status_code, replayed.json()["code"]) == (401, "invalid_dpop_proof")
    assert replayed["WWW-Authenticate"] == (
        f'{ALGS}, error="invalid_dpop_proof", error_description="invalid_dpop_proof"')


def _attacks(key, other, pair, path):
    url = BASE + path
    token = pair["access"]
    private = {**key.jwk, "d": b64url(b"\x01" * 32)}

    def raw(header, payload, secret=None):
        signing_input = ".".join(b64url(json.dumps(part).encode()) for part in (header, payload))
        signature = b"" if secret is None else hmac.new(
            secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(signature)}"

    payload = {"jti": "attack", "htm": "GET", "htu": url, "iat": int(time.time()),
               "ath": dpop.access_token_hash(token)}
    # Key confusion: an HMAC keyed with the public key a verifier might take for a secret.
    hs256 = raw({"typ": "dpop+jwt", "alg": "HS256", "jwk": key.jwk}, payload,
                json.dumps(key.jwk).encode())
    return {
        "other method": key.proof("POST", url, access=token),
        "other URL": key.proof("GET", BASE + "/api/other/", access=token),
        "trailing slash": key.proof("GET", url.rstrip("/") if url.endswith("/")
                                    else url + "/", access=token),
        "query in htu": key.proof("GET", url + "?a=1", access=token),
        "stale iat": key.proof("GET", url, access=token, iat=time.time() - 300),
        "future iat": key.proof("GET", url, access=token, iat=time.time() + 300),
        "ath of another token": key.proof("GET", url, access=pair["refresh"]),
        "no ath": key.proof("GET", url),
        "another key than cnf.jkt": other.proof("GET", url, access=token),
        "jwk with private parts": key.proof("GET", url, access=token, header={"jwk": private}),
        "alg none": raw({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk}, payload),
        "HS256 with the public key as secret": hs256,
        "two proofs": key.proof("GET", url, access=token) + ", " + key.proof(
            "GET", url, access=token),
        "oversize": key.proof("GET", url, access=token, header={"pad": "x" * 5000}),
        "not a JWT": "garbage",
    }


ATTACKS = list(_attacks(ProofKey(), ProofKey(), {"access": "a", "refresh": "r"},
                        "/api/me/"))


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("face", ["drf", "ninja-async", "plain", "mixin-async"])
def test_attacks_are_refused_on_every_face_and_record_nothing(face, attack, user, password,
                                                              key, optional):
    pair = bound_pair(password, key)
    path = FACES[face]
    before = replay_records()
    proof = _attacks(key, ProofKey(), pair, path)[attack]
    response = Client().get(path, HTTP_AUTHORIZATION=f"DPoP {pair['access']}", HTTP_DPOP=proof)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_dpop_proof")
    assert response["WWW-Authenticate"].startswith(f"{ALGS}, error=")
    assert replay_records() == before


@pytest.mark.parametrize("face", ["drf", "ninja", "ninja-async", "plain", "mixin"])
def test_a_bound_token_sent_as_bearer_is_refused(face, user, password, key, optional):
    pair = bound_pair(password, key)
    path = FACES[face]
    response = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {pair['access']}",
                            HTTP_DPOP=key.proof("GET", BASE + path, access=pair["access"]))
    assert (response.status_code, response.json()["code"]) == (401, "invalid_dpop_proof")


def test_an_unbound_token_is_sent_as_dpop_only_where_its_profile_has_dpop(
        user, password, key, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "CLIENT_PROFILES": {
        "web": {}, "mobile": {"DPOP": "optional"}}}
    web = login(Client(), password).json()
    mobile = login(Client(), password, client="mobile").json()
    assert get("/api/me/", key, mobile["access"]).status_code == 200
    refused = get("/api/me/", key, web["access"])
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_dpop_proof")


# --- one round trip, no query ---------------------------------------------------------------

# Views that read only request.user.pk (no user row).
PK_ONLY = {"drf": "/whoami-pk/", "ninja-sync": "/ninja-tests/sync",
           "ninja-async": "/ninja-tests/async", "plain-async": "/bearer/async/"}


@pytest.mark.parametrize("face", PK_ONLY)
def test_a_dpop_request_is_one_cache_round_trip_and_no_query(
        face, user, password, key, optional, round_trips, django_assert_num_queries):
    pair = bound_pair(password, key)
    path = PK_ONLY[face]
    assert get(path, key, pair["access"]).status_code == 200  # last_used marker, connections
    round_trips.clear()
    with django_assert_num_queries(0):
        assert get(path, key, pair["access"]).status_code == 200
    assert len(round_trips) == 1
    packed = b"".join(round_trips[0]) if isinstance(round_trips[0], list) else round_trips[0]
    assert b"MGET" in packed and b"NX" in packed  # the read and the replay record, one pipeline


# --- refresh, logout, verify, slide -------------------------------------------------------

def refresh(pair, key=None, path="/api/auth/refresh/"):
    extra = {"HTTP_DPOP": key.proof("POST", BASE + path)} if key else {}
    return Client().post(path, {"refresh": pair["refresh"]}, content_type="application/json",
                         **extra)


def test_a_bound_refresh_rotates_and_stays_bound(user, password, key, optional):
    pair = bound_pair(password, key)
    first = refresh(pair, key)
    assert first.status_code == 200 and first.json()["token_type"] == "DPoP"
    assert claims(first.json()["access"])["cnf"] == {"jkt": key.jkt}
    # Within the grace window the same token (another proof) gets the same pair...
    assert refresh(pair, key).json()["access"] == first.json()["access"]
    # ... and the new refresh token rotates again, with the same key only.
    assert refresh(first.json(), ProofKey()).status_code == 401
    assert refresh(first.json(), key).status_code == 200


@pytest.mark.parametrize("proof", ["none", "another key", "replayed"])
def test_a_bound_refresh_without_its_keys_proof_changes_nothing(proof, user, password, key,
                                                                optional):
    pair = bound_pair(password, key)
    row = DeviceSession.objects.get(pk=pair["session_id"])
    url = BASE + "/api/auth/refresh/"
    if proof == "replayed":
        used = key.proof("POST", url)
        dpop.verify_proof(used, method="POST", uri=url)  # its one use, elsewhere
        response = Client().post("/api/auth/refresh/", {"refresh": pair["refresh"]},
                                 content_type="application/json", HTTP_DPOP=used)
    else:
        response = refresh(pair, None if proof == "none" else ProofKey())
    assert (response.status_code, response.json()["code"]) == (401, "invalid_dpop_proof")
    after = DeviceSession.objects.get(pk=pair["session_id"])
    assert (after.refresh_generation, after.revoked_at) == (row.refresh_generation, None)
    assert refresh(pair, key).status_code == 200  # the genuine client still refreshes


def test_required_refuses_refreshing_an_unbound_session(user, password, settings, key):
    pair = login(Client(), password).json()
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP": "required"}
    assert refresh(pair).json()["code"] == "invalid_dpop_proof"
    assert refresh(pair, key).json()["code"] == "token_invalid"  # log in again, bound


def test_logout_of_a_bound_session_needs_its_proof(user, password, key, optional):
    pair = bound_pair(password, key)
    path = "/api/auth/logout/"
    refused = Client().post(path, HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert refused.status_code == 401
    assert Client().post(path, **key.headers("POST", BASE + path, pair["access"])
                         ).status_code == 204
    assert DeviceSession.objects.get(pk=pair["session_id"]).revoked_at is not None


def test_verify_checks_a_bound_tokens_proof(user, password, key, optional):
    pair = bound_pair(password, key)
    path = "/api/auth/verify/"
    body = {"token": pair["access"]}
    bare = Client().post(path, body, content_type="application/json")
    assert bare.json()["code"] == "invalid_dpop_proof"
    proved = Client().post(path, body, content_type="application/json",
                           HTTP_DPOP=key.proof("POST", BASE + path, access=pair["access"]))
    assert proved.status_code == 200 and proved.json()["valid"] is True


def near_expiry(pair, key):
    return access_token(pair, remaining=60, cnf={"jkt": key.jkt})


@pytest.mark.parametrize("path", ["/api/me/", "/plain/"])  # authenticated / middleware's own
def test_a_slide_keeps_the_binding(path, user, password, key, optional):
    pair = bound_pair(password, key)
    token = near_expiry(pair, key)
    response = get(path, key, token)
    assert response.status_code == 200
    scheme, successor = response["NEW_HTTP_AUTHORIZATION"].split()
    assert scheme == "DPoP"  # as the client is to send it
    assert claims(successor)["cnf"] == {"jkt": key.jkt}
    assert get("/api/me/", key, successor).status_code == 200


@pytest.mark.parametrize("how", ["as bearer", "another key", "replayed"])
def test_the_middleware_slides_nothing_without_the_keys_proof(how, user, password, key,
                                                              optional):
    pair = bound_pair(password, key)
    token = near_expiry(pair, key)
    if how == "as bearer":
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    else:
        headers = (ProofKey() if how == "another key" else key).headers(
            "GET", BASE + "/plain/", token)
        if how == "replayed":
            assert "NEW_HTTP_AUTHORIZATION" in Client().get("/plain/", **headers)
    response = Client().get("/plain/", **headers)
    assert response.status_code == 200 and "NEW_HTTP_AUTHORIZATION" not in response


# --- nonces and challenges ----------------------------------------------------------------

@pytest.fixture
def nonces(settings, optional):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_NONCE": True}


def test_a_login_is_asked_for_the_nonce_then_accepted(user, password, key, nonces):
    path = "/api/auth/login/"
    body = {"username": "alice", "password": password}
    asked = Client().post(path, body, content_type="application/json",
                          HTTP_DPOP=key.proof("POST", BASE + path))
    assert (asked.status_code, asked.json()["code"]) == (400, "use_dpop_nonce")
    assert "WWW-Authenticate" not in asked and not DeviceSession.objects.exists()
    nonce = asked["DPoP-Nonce"]
    done = Client().post(path, body, content_type="application/json",
                         HTTP_DPOP=key.proof("POST", BASE + path, nonce=nonce))
    assert done.status_code == 200 and done.json()["token_type"] == "DPoP"
    assert done["DPoP-Nonce"] == nonce


@pytest.mark.parametrize("face", ["drf", "ninja", "ninja-async", "plain", "mixin-async"])
def test_a_request_is_asked_for_the_nonce_with_a_401(face, user, password, key, nonces):
    path = FACES[face]
    pair = Client().post("/api/auth/login/", {"username": "alice", "password": password},
                         content_type="application/json", HTTP_DPOP=key.proof(
                             "POST", BASE + "/api/auth/login/", nonce=dpop.current_nonce()))
    token = pair.json()["access"]
    asked = get(path, key, token)
    assert (asked.status_code, asked.json()["code"]) == (401, "use_dpop_nonce")
    assert asked["WWW-Authenticate"] == (
        f'{ALGS}, error="use_dpop_nonce", error_description="use_dpop_nonce"')
    assert get(path, key, token, nonce=asked["DPoP-Nonce"]).status_code == 200


@pytest.mark.parametrize("face", FACES)
def test_without_credentials_the_dpop_scheme_is_offered(face, db, optional):
    response = Client().get(FACES[face])
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == f'Bearer realm="api", {ALGS}'


# --- admin --------------------------------------------------------------------------------

def test_the_admin_shows_a_sessions_key_and_filters_bound_ones(client, django_user_model,
                                                               user, password, key, optional):
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("staff", "s@example.com", password,
                                                  is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_devicesession"))
    assert client.login(username="staff", password=password)
    bound = login(Client(), password, key, device="bound-phone").json()
    login(Client(), password, device="plain-laptop")
    changelist = "/admin/django_doubletoken/devicesession/"
    only_bound = client.get(changelist, {"dpop": "bound"}).content.decode()
    assert "bound-phone" in only_bound and "plain-laptop" not in only_bound
    only_unbound = client.get(changelist, {"dpop": "unbound"}).content.decode()
    assert "plain-laptop" in only_unbound and "bound-phone" not in only_unbound
    page = client.get(f"{changelist}{bound['session_id']}/change/").content.decode()
    assert key.jkt in page and "DPoP key thumbprint" in page
