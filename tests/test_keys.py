"""Asymmetric keys, JWKS, kid-based rotation, and key confusion."""

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from django_doubletoken.checks import check_settings

from .helpers import access_claims, bearer, craft

pytestmark = pytest.mark.django_db


def _pem_pair(kind):
    private = {
        "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "EdDSA": ed25519.Ed25519PrivateKey.generate,
    }[kind]()
    private_pem = private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


@pytest.fixture(scope="module")
def rsa_keys():
    return [_pem_pair("RS256") for _ in range(2)]


def _use(settings, algorithm, private, previous=()):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "ALGORITHM": algorithm,
                            "SIGNING_KEY": private, "PREVIOUS_VERIFYING_KEYS": list(previous)}


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_asymmetric_tokens_verify_with_an_independent_jwks_client(
    algorithm, settings, live_server, user, password, transactional_db
):
    private, public = _pem_pair(algorithm)
    _use(settings, algorithm, private)
    assert check_settings() == []
    base = live_server.url
    pair = requests.post(f"{base}/api/auth/login/",
                         json={"username": "alice", "password": password}, timeout=10).json()
    header = jwt.get_unverified_header(pair["access"])
    assert header["alg"] == algorithm and header["kid"]
    # Another service: PyJWT's JWKS client fetches our public keys over HTTP.
    signing_key = jwt.PyJWKClient(f"{base}/api/auth/jwks/").get_signing_key_from_jwt(
        pair["access"])
    claims = jwt.decode(pair["access"], signing_key.key, algorithms=[algorithm])
    assert claims["sid"] == pair["session_id"]
    # ...and the PEM public key verifies it as well.
    assert jwt.decode(pair["access"], public, algorithms=[algorithm])["sub"] == str(user.pk)
    me = requests.get(f"{base}/api/me/", headers={"Authorization": f"Bearer {pair['access']}"},
                      timeout=10)
    assert me.status_code == 200
    jwks = requests.get(f"{base}/api/auth/jwks/", timeout=10)
    assert jwks.headers["Cache-Control"] == "public, max-age=300"
    (key,) = jwks.json()["keys"]
    assert key["kid"] == header["kid"] and key["use"] == "sig" and key["alg"] == algorithm
    assert "d" not in key  # never a private member


def test_rotation_keeps_old_tokens_until_the_old_key_is_dropped(settings, api, user, login,
                                                                rsa_keys):
    (old_private, old_public), (new_private, _) = rsa_keys
    _use(settings, "RS256", old_private)
    old_pair = login()
    _use(settings, "RS256", new_private, previous=[old_public])
    new_pair = login()
    assert jwt.get_unverified_header(new_pair["access"])["kid"] != \
        jwt.get_unverified_header(old_pair["access"])["kid"]
    assert api.get("/api/me/", **bearer(old_pair["access"])).status_code == 200
    assert api.get("/api/me/", **bearer(new_pair["access"])).status_code == 200
    assert len(api.get("/api/auth/jwks/").json()["keys"]) == 2
    # The old refresh token still rotates; the new pair is signed with the new key.
    refreshed = api.post("/api/auth/refresh/", {"refresh": old_pair["refresh"]}, format="json")
    assert jwt.get_unverified_header(refreshed.json()["access"])["kid"] == \
        jwt.get_unverified_header(new_pair["access"])["kid"]
    _use(settings, "RS256", new_private)
    response = api.get("/api/me/", **bearer(old_pair["access"]))
    assert response.status_code == 401 and response.json()["code"] == "token_invalid"
    assert api.get("/api/me/", **bearer(new_pair["access"])).status_code == 200
    assert len(api.get("/api/auth/jwks/").json()["keys"]) == 1


def test_hmac_secret_rotation(settings, api, user, login):
    old = settings.DOUBLETOKEN["SIGNING_KEY"]
    pair = login()
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "SIGNING_KEY": "n" * 40,
                            "PREVIOUS_VERIFYING_KEYS": [old]}
    assert api.get("/api/me/", **bearer(pair["access"])).status_code == 200
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "PREVIOUS_VERIFYING_KEYS": []}
    assert api.get("/api/me/", **bearer(pair["access"])).json()["code"] == "token_invalid"


def test_hs256_signed_with_the_public_key_is_refused(settings, api, user, login, rsa_keys):
    """Key confusion (RFC 8725 §2.1): the algorithm is pinned, whatever the header says."""
    private, public = rsa_keys[0]
    _use(settings, "RS256", private)
    pair = login()
    kid = jwt.get_unverified_header(pair["access"])["kid"]
    # PyJWT itself refuses to HMAC with a PEM, so sign the confused token by hand.
    import base64
    import hashlib
    import hmac
    import json

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode())
    body = b64(json.dumps(access_claims(pair)).encode())
    signature = hmac.new(public.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}.{b64(signature)}"
    response = api.get("/api/me/", **bearer(forged))
    assert response.status_code == 401 and response.json()["code"] == "token_invalid"


def test_unknown_or_missing_kid_is_refused(api, user, login):
    pair = login()
    for kid in ("someone-elses-key", None, ""):
        token = craft(access_claims(pair), kid=kid)
        response = api.get("/api/me/", **bearer(token))
        assert response.status_code == 401 and response.json()["code"] == "token_invalid"


def test_jwks_is_404_for_hmac(api):
    assert api.get("/api/auth/jwks/").status_code == 404


def test_bad_keys_are_reported_at_startup(settings, rsa_keys):
    _use(settings, "RS256", "not a pem")
    assert "django_doubletoken.E012" in [e.id for e in check_settings()]
    _use(settings, "RS256", rsa_keys[0][1])  # a public key where the private one belongs
    assert "django_doubletoken.E012" in [e.id for e in check_settings()]
    _use(settings, "RS256", rsa_keys[0][0], previous=["garbage"])
    assert "django_doubletoken.E012" in [e.id for e in check_settings()]
    _use(settings, "HS256", "x" * 40, previous=["short"])
    assert "django_doubletoken.E011" in [e.id for e in check_settings()]
