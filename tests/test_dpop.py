"""DPoP (RFC 9449) in the core: thumbprints, proof checks, the replay store, nonces.

The faces are not wired yet; these tests call ``django_doubletoken.dpop`` as the access service
will, against the real Redis (the replay store) with a frozen clock where time matters.
"""

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import threading
import warnings
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings as django_settings
from django.test import RequestFactory
from django_redis import get_redis_connection
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_of_hypothesis
from hypothesis import strategies as st
from requests_oauth2client import DPoPKey, DPoPToken

from django_doubletoken import dpop, http, store
from django_doubletoken.checks import check_settings
from django_doubletoken.errors import INVALID_DPOP_PROOF, USE_DPOP_NONCE

NOW = 1_800_000_000
URL = "https://api.example.com/api/me/"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


def private_key(alg="ES256"):
    if alg.startswith("ES"):
        curve = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}[alg]
        return ec.generate_private_key(curve())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key, alg="ES256"):
    return jwt.get_algorithm_by_name(alg).to_jwk(key.public_key(), as_dict=True)


_jti_counter = iter(range(10**9))


def make_proof(key, alg="ES256", *, htm="GET", htu=URL, iat=NOW, header=None, drop=(),
               **claims):
    headers = {"typ": "dpop+jwt", "jwk": public_jwk(key, alg), **(header or {})}
    payload = {"jti": f"jti-{next(_jti_counter)}", "htm": htm, "htu": htu, "iat": iat, **claims}
    for name in drop:
        payload.pop(name, None)
        headers.pop(name, None)
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


@pytest.fixture(scope="module")
def key():
    return private_key("ES256")


@pytest.fixture(scope="module")
def other_key():
    return private_key("ES256")


def recorded_replays():
    return get_redis_connection("default").keys("*:dpop:*")


def refused(reason_part, call, *args, **kwargs):
    with pytest.raises(dpop.ProofError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == INVALID_DPOP_PROOF
    assert reason_part in caught.value.reason
    return caught.value


# --- RFC material ---------------------------------------------------------------------------

RFC7638_JWK = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc"
         "_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR"
         "0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFT"
         "WhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}

# RFC 9449 §4.1 (Figure 4) and §7.1 (Figure 12): the example proofs, signed by the key of
# Figure 3, whose thumbprint §6.1 gives.
RFC9449_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
RFC9449_HEADER = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0Vj"
    "NoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5"
    "VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19"
)
RFC9449_TOKEN_PROOF = (
    RFC9449_HEADER + ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8v"
    "c2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8ig"
    "iMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
RFC9449_RESOURCE_PROOF = (
    RFC9449_HEADER + ".eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9y"
    "ZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU"
    "8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPP"
    "ToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
)
RFC9449_ACCESS_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"


def test_rfc7638_example_thumbprint():
    assert dpop.jwk_thumbprint(RFC7638_JWK) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "EdDSA", "RS256"])
def test_thumbprints_of_every_key_type_ignore_optional_members(alg):
    jwk = public_jwk(private_key(alg), alg)
    assert dpop.jwk_thumbprint({**jwk, "kid": "k1", "use": "sig"}) == dpop.jwk_thumbprint(jwk)
    assert len(dpop.jwk_thumbprint(jwk)) == 43


def test_ed448_thumbprint_and_proof(settings):
    key = jwt.get_algorithm_by_name("EdDSA")
    private = __import__(
        "cryptography.hazmat.primitives.asymmetric.ed448", fromlist=["x"]
    ).Ed448PrivateKey.generate()
    jwk = key.to_jwk(private.public_key(), as_dict=True)
    assert jwk["crv"] == "Ed448"
    proof = jwt.encode({"jti": "x", "htm": "GET", "htu": URL, "iat": NOW}, private,
                       algorithm="EdDSA", headers={"typ": "dpop+jwt", "jwk": jwk})
    assert dpop.check_proof(proof, method="GET", uri=URL, now=NOW).jkt == dpop.jwk_thumbprint(jwk)


def test_thumbprint_refuses_incomplete_keys():
    with pytest.raises(ValueError):
        dpop.jwk_thumbprint({"kty": "EC", "crv": "P-256", "x": "abc"})
    with pytest.raises(ValueError):
        dpop.jwk_thumbprint({"kty": "oct", "k": "c2VjcmV0"})


def test_rfc9449_example_proofs_verify_with_a_frozen_clock():
    token_proof = dpop.verify_proof(RFC9449_TOKEN_PROOF, method="POST",
                                    uri="https://server.example.com/token", now=1562262616)
    assert token_proof.jkt == RFC9449_JKT
    assert (token_proof.jti, token_proof.htm) == ("-BwC3ESc6acc2lTc", "POST")
    resource_proof = dpop.verify_proof(
        RFC9449_RESOURCE_PROOF, method="GET", uri="https://resource.example.org/protectedresource",
        access_token=RFC9449_ACCESS_TOKEN, jkt=RFC9449_JKT, now=1562262618)
    assert resource_proof.jkt == RFC9449_JKT
    assert dpop.access_token_hash(RFC9449_ACCESS_TOKEN) == \
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    # Recorded: the same example proof is refused the second time.
    refused(dpop.REPLAYED, dpop.verify_proof, RFC9449_TOKEN_PROOF, method="POST",
            uri="https://server.example.com/token", now=1562262617)
    # And its clock matters: a minute and more later it is too old.
    refused("too old", dpop.check_proof, RFC9449_RESOURCE_PROOF, method="GET",
            uri="https://resource.example.org/protectedresource",
            access_token=RFC9449_ACCESS_TOKEN, now=1562262618 + 61)


# --- a good proof, and what it records --------------------------------------------------------

@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256", "PS256"])
def test_a_good_proof_is_accepted_once_for_every_default_algorithm(alg):
    key = private_key(alg)
    proof = make_proof(key, alg, ath=dpop.access_token_hash(TOKEN))
    jkt = dpop.jwk_thumbprint(public_jwk(key, alg))
    accepted = dpop.verify_proof(proof, method="GET", uri=URL, access_token=TOKEN, jkt=jkt, now=NOW)
    assert accepted.jkt == jkt
    assert len(recorded_replays()) == 1
    refused(dpop.REPLAYED, dpop.verify_proof, proof, method="GET", uri=URL, access_token=TOKEN,
            jkt=jkt, now=NOW + 1)


def test_the_replay_record_expires_with_the_window(key, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_PROOF_MAX_AGE": timedelta(seconds=30),
                            "LEEWAY": timedelta(seconds=5)}
    proof = dpop.check_proof(make_proof(key, iat=NOW - 20), method="GET", uri=URL, now=NOW)
    assert proof.replay.ttl == 15  # accepted until iat + 30 s, plus 5 s for a lagging host
    dpop.record_replay(proof.replay)
    (name,) = recorded_replays()
    assert 0 < get_redis_connection("default").ttl(name) <= 15
    assert proof.jti not in name.decode()  # the jti is hashed
    assert proof.jkt in name.decode()


def test_a_long_or_odd_jti_costs_a_fixed_size_key(key):
    odd = dpop.replay_key("jkt", "\u00e9" * 200)
    assert len(odd) == len(dpop.replay_key("jkt", "a"))
    assert dpop.replay_key("jkt", "a") != dpop.replay_key("jkt", "b")
    assert dpop.replay_key("jkt", "a") != dpop.replay_key("other", "a")


def test_the_replay_record_fits_the_requests_one_pipeline(key):
    """The face reads the session state and records the proof in one round trip: the SET NX
    queued beside the MGET in one pipeline. The plain function sees the same record."""
    backend = store.cache()
    proof = dpop.check_proof(make_proof(key), method="GET", uri=URL, now=NOW)
    redis = backend.client.get_client(write=True)

    def one_round_trip():
        pipeline = redis.pipeline(transaction=False)
        pipeline.mget([backend.make_key(k) for k in store._request_keys("sid", "jti")])
        dpop.queue_replay(pipeline, backend, proof.replay)
        return pipeline.execute()

    _, added = one_round_trip()
    dpop.replay_accepted(added)
    _, again = one_round_trip()
    refused(dpop.REPLAYED, dpop.replay_accepted, again)
    refused(dpop.REPLAYED, dpop.record_replay, proof.replay)


def test_the_async_path_records_and_refuses(key):
    proof = make_proof(key)

    async def twice():
        await dpop.averify_proof(proof, method="GET", uri=URL, now=NOW)
        with pytest.raises(dpop.ProofError, match="already used"):
            await dpop.averify_proof(proof, method="GET", uri=URL, now=NOW)

    asyncio.run(twice())


def test_twenty_concurrent_uses_of_one_jti_accept_exactly_one(key):
    proof = make_proof(key, ath=dpop.access_token_hash(TOKEN))
    start = threading.Barrier(20)
    outcomes = []

    def use():
        start.wait()
        try:
            dpop.verify_proof(proof, method="GET", uri=URL, access_token=TOKEN, now=NOW)
            outcomes.append("accepted")
        except dpop.ProofError as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=use) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted"] + [dpop.REPLAYED] * 19
    assert len(recorded_replays()) == 1


def test_the_cache_being_down_is_a_503_code_not_an_acceptance(key, settings):
    from django_doubletoken.errors import ServiceUnavailable

    settings.CACHES = {"default": {**settings.CACHES["default"],
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    with pytest.raises(ServiceUnavailable):
        dpop.verify_proof(make_proof(key), method="GET", uri=URL, now=NOW)


# --- attacks: each refused with its reason, nothing recorded ----------------------------------

def _b64(data: dict) -> str:
    return dpop.b64url(json.dumps(data).encode())


def _attacks(key, other_key):
    ath = dpop.access_token_hash(TOKEN)
    bound = dpop.jwk_thumbprint(public_jwk(key))
    good = make_proof(key, ath=ath)
    header, payload, signature = good.split(".")
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    # PyJWT itself refuses to sign HS256 with a PEM key: done by hand, as an attacker would.
    confusion_input = (_b64({"typ": "dpop+jwt", "alg": "HS256", "jwk": public_jwk(key)}) + "."
                       + _b64({"jti": "x", "htm": "GET", "htu": URL, "iat": NOW, "ath": ath}))
    hs256_confusion = confusion_input + "." + dpop.b64url(
        hmac.new(public_pem, confusion_input.encode(), hashlib.sha256).digest())
    private_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))
    rsa_small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with warnings.catch_warnings():  # PyJWT warns about signing with it: the point here
        warnings.simplefilter("ignore")
        small_proof = make_proof(rsa_small, "RS256", ath=ath)
    return {
        "no proof": (None, {}, "no DPoP header"),
        "two DPoP headers": ([good, make_proof(key, ath=ath)], {}, "more than one"),
        "two headers joined by the server": (good + ", " + good, {}, "more than one"),
        "an oversize proof": (make_proof(key, ath=ath, pad="x" * 4000), {}, "too long"),
        "not a JWT": ("abc.def", {}, "not a signed JWT"),
        "alg none": (_b64({"typ": "dpop+jwt", "alg": "none", "jwk": public_jwk(key)}) + "."
                     + payload + ".", {}, "alg is not allowed"),
        "HS256 with the public key as secret (key confusion)": (hs256_confusion, {},
                                                                "alg is not allowed"),
        "RS256 claimed for an EC key": (_b64({"typ": "dpop+jwt", "alg": "RS256",
                                              "jwk": public_jwk(key)}) + "." + payload + "."
                                        + signature, {}, "not a RSA key"),
        "ES384 claimed for a P-256 key": (_b64({"typ": "dpop+jwt", "alg": "ES512",
                                                "jwk": public_jwk(key)}) + "." + payload + "."
                                          + signature, {"algorithms": ("ES256", "ES512")},
                                          "not a P-521 key"),
        "a jwk with private parts": (make_proof(key, ath=ath, header={"jwk": private_jwk}), {},
                                     "private key material"),
        "a symmetric jwk": (_b64({"typ": "dpop+jwt", "alg": "ES256",
                                  "jwk": {"kty": "oct", "k": "c2VjcmV0"}}) + "." + payload + "."
                            + signature, {}, "private key material"),
        "no jwk": (make_proof(key, ath=ath, drop=("jwk",)), {}, "jwk header is missing"),
        "a jwk that is not on its curve": (
            _b64({"typ": "dpop+jwt", "alg": "ES256",
                  "jwk": {**public_jwk(key), "y": public_jwk(other_key)["y"]}})
            + "." + payload + "." + signature, {}, "not a usable public key"),
        "a 1024-bit RSA key": (small_proof, {}, "at least 2048"),
        "another key's signature": (_b64({"typ": "dpop+jwt", "alg": "ES256",
                                          "jwk": public_jwk(other_key)}) + "." + payload + "."
                                    + signature, {}, "signature does not verify"),
        "a changed payload": (header + "." + _b64({"jti": "y", "htm": "GET", "htu": URL,
                                                    "iat": NOW, "ath": ath}) + "." + signature,
                              {}, "signature does not verify"),
        "a truncated signature": (good[:-10], {}, "signature does not verify"),
        "typ JWT": (make_proof(key, ath=ath, header={"typ": "JWT"}), {}, "typ"),
        "a crit header": (make_proof(key, ath=ath, header={"crit": ["exp"]}), {}, "critical"),
        "a duplicate member": (
            dpop.b64url(json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)})
                        .replace('"alg": "ES256"', '"alg": "ES256", "alg": "ES256"').encode())
            + "." + payload + "." + signature, {}, "header is not a JSON object"),
        "another method": (make_proof(key, htm="POST", ath=ath), {}, "htm"),
        "another URL": (make_proof(key, htu="https://api.example.com/api/admin/", ath=ath), {},
                        "not this request's URL"),
        "another host": (make_proof(key, htu="https://evil.example.com/api/me/", ath=ath), {},
                         "not this request's URL"),
        "http for https": (make_proof(key, htu="http://api.example.com/api/me/", ath=ath), {},
                           "not this request's URL"),
        "the trailing-slash variant": (make_proof(key, htu=URL.rstrip("/"), ath=ath), {},
                                       "not this request's URL"),
        "a query smuggled into htu": (make_proof(key, htu=URL + "?a=1", ath=ath), {},
                                      "query or fragment"),
        "a fragment smuggled into htu": (make_proof(key, htu=URL + "#x", ath=ath), {},
                                         "query or fragment"),
        "a relative htu": (make_proof(key, htu="/api/me/", ath=ath), {}, "not an absolute URI"),
        "user info in htu": (make_proof(key, htu="https://a@api.example.com/api/me/", ath=ath),
                             {}, "not an absolute URI"),
        "a stale iat": (make_proof(key, iat=NOW - 61, ath=ath), {}, "too old"),
        "a future iat": (make_proof(key, iat=NOW + 11, ath=ath), {}, "in the future"),
        "an iat that is a string": (make_proof(key, iat=str(NOW), ath=ath), {}, "no iat"),
        "no jti": (make_proof(key, drop=("jti",), ath=ath), {}, "no jti"),
        "a jti too long": (make_proof(key, jti="j" * 257, ath=ath), {}, "jti is too long"),
        "no ath": (make_proof(key), {}, "ath"),
        "the ath of another token": (make_proof(key, ath=dpop.access_token_hash(TOKEN + "x")),
                                     {}, "ath"),
        "a proof by another key than cnf.jkt": (make_proof(other_key, ath=ath),
                                                {"jkt": bound}, "another key"),
    }


ATTACKS = list(_attacks(private_key(), private_key()))


@pytest.fixture(scope="module")
def attacks(key, other_key):
    return _attacks(key, other_key)


@pytest.mark.parametrize("attack", ATTACKS)
def test_attacks_are_refused_and_nothing_is_recorded(attack, attacks, key, settings):
    proof, options, reason = attacks[attack]
    if "algorithms" in options:
        settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_ALGORITHMS": options["algorithms"]}
    refused(reason, dpop.verify_proof, proof, method="GET", uri=URL, access_token=TOKEN,
            jkt=options.get("jkt", dpop.jwk_thumbprint(public_jwk(key))), now=NOW)
    assert recorded_replays() == []


def test_the_window_edges(key):
    for iat in (NOW - 60, NOW + 10):
        dpop.check_proof(make_proof(key, iat=iat), method="GET", uri=URL, now=NOW)
    for iat in (NOW - 60.5, NOW + 10.5):
        refused("iat" if iat > NOW else "too old", dpop.check_proof, make_proof(key, iat=iat),
                method="GET", uri=URL, now=NOW)


def test_an_algorithm_left_out_of_dpop_algorithms_is_refused(key, settings, attacks):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_ALGORITHMS": ["EdDSA"]}
    refused("alg is not allowed", dpop.check_proof, make_proof(key), method="GET", uri=URL,
            now=NOW)
    # Listing HMAC or none (which the system checks report) still lets neither through.
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_ALGORITHMS": ["HS256", "none", "ES256"]}
    for attack in ("alg none", "HS256 with the public key as secret (key confusion)"):
        refused("alg is not allowed", dpop.check_proof, attacks[attack][0], method="GET",
                uri=URL, now=NOW)


def test_a_refused_proof_can_still_be_used_once_it_is_right(key):
    """Refusals record nothing: the same jti in a correct proof is accepted afterwards."""
    for wrong in (make_proof(key, jti="same", htm="POST"), make_proof(key, jti="same", iat=0)):
        with pytest.raises(dpop.ProofError):
            dpop.verify_proof(wrong, method="GET", uri=URL, now=NOW)
    dpop.verify_proof(make_proof(key, jti="same"), method="GET", uri=URL, now=NOW)


# Any JSON at all where the checks expect their members: refused, never an exception else.
# (Health checks off: on a loaded machine generation is slow, which is no failure here.)
FUZZ = settings_of_hypothesis(max_examples=150, deadline=None,
                              suppress_health_check=list(HealthCheck))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8)


@FUZZ
@given(header=st.dictionaries(st.sampled_from(["typ", "alg", "jwk", "crit", "kid"]),
                              JSON_VALUES, max_size=5),
       jwk=st.dictionaries(st.sampled_from(["kty", "crv", "x", "y", "n", "e", "d"]),
                           st.sampled_from(["EC", "P-256", "RSA", "AQAB"]) | JSON_VALUES,
                           max_size=5))
def test_any_header_is_refused_cleanly(header, jwk):
    header = {"typ": "dpop+jwt", "alg": "ES256", **header}
    if "jwk" not in header:
        header["jwk"] = jwk
    proof = _b64(header) + "." + _b64({"jti": "j", "htm": "GET", "htu": URL, "iat": NOW}) + ".c2ln"
    with pytest.raises(dpop.ProofError):
        dpop.check_proof(proof, method="GET", uri=URL, now=NOW)


@FUZZ
@given(claims=st.dictionaries(st.sampled_from(["jti", "htm", "htu", "iat", "ath", "nonce"]),
                              JSON_VALUES | st.just(10**400), max_size=6))
def test_any_signed_claims_are_refused_or_accepted_never_crash(claims, key):
    proof = jwt.api_jws.encode(json.dumps(claims).encode(), key, algorithm="ES256",
                               headers={"typ": "dpop+jwt", "jwk": public_jwk(key)})
    try:
        dpop.check_proof(proof, method="GET", uri=URL, access_token=TOKEN, now=NOW)
    except dpop.ProofError:
        return
    assert claims["htm"] == "GET" and claims["ath"] == dpop.access_token_hash(TOKEN)


def signed(key, raw_claims: str) -> str:
    """A proof whose payload is exactly ``raw_claims`` (JSON that PyJWT would not write)."""
    return jwt.api_jws.encode(raw_claims.encode(), key, algorithm="ES256",
                              headers={"typ": "dpop+jwt", "jwk": public_jwk(key)})


def test_odd_member_types_are_refused_not_crashed(key, settings):
    good = f'"jti": "j", "htm": "GET", "htu": "{URL}"'
    for raw, reason in ((f'{{{good}, "iat": {10**400}}}', "in the future"),
                        (f'{{{good}, "iat": -{10**400}}}', "too old"),
                        (f'{{{good}, "iat": NaN}}', "no iat"),
                        (f'{{{good}, "iat": {NOW}, "ath": "\\ud800"}}', "ath")):
        refused(reason, dpop.check_proof, signed(key, raw), method="GET", uri=URL,
                access_token=TOKEN, now=NOW)
    lone = signed(key, f'{{"jti": "\\ud800", "htm": "GET", "htu": "{URL}", "iat": {NOW}}}')
    assert dpop.verify_proof(lone, method="GET", uri=URL, now=NOW).jti == "\ud800"
    payload = make_proof(key).split(".")[1]
    for jwk in ({**public_jwk(key), "crv": ["P-256"]}, {**public_jwk(key), "crv": {"a": 1}}):
        forged = _b64({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}) + "." + payload + ".c2ln"
        refused("not a P-256 key", dpop.check_proof, forged, method="GET", uri=URL, now=NOW)
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_NONCE": True}
    with pytest.raises(dpop.ProofError) as caught:
        dpop.check_proof(signed(key, f'{{{good}, "iat": {NOW}, "nonce": "\\udfff"}}'),
                         method="GET", uri=URL, now=NOW)
    assert caught.value.code == USE_DPOP_NONCE


def test_deeply_nested_json_is_refused(key):
    nested = "[" * 2000 + "]" * 2000
    proof = dpop.b64url(nested.encode()) + ".e30.c2ln"
    refused("too long", dpop.check_proof, proof, method="GET", uri=URL, now=NOW)
    nested = dpop.b64url(("[" * 1000 + "]" * 1000).encode())
    refused("header is not a JSON object", dpop.check_proof, nested + ".e30.c2ln",
            method="GET", uri=URL, now=NOW)
    refused("not a JWT", dpop.check_proof, [b"bytes"], method="GET", uri=URL, now=NOW)


# --- the request's URI --------------------------------------------------------------------------

@pytest.mark.parametrize("htu, uri", [
    ("HTTPS://API.Example.COM/api/me/", "https://api.example.com/api/me/"),
    ("https://api.example.com:443/api/me/", "https://api.example.com/api/me/"),
    ("http://api.example.com:80/x", "http://api.example.com/x"),
    ("https://api.example.com", "https://api.example.com/"),
    ("https://api.example.com/%7Euser/a%2db", "https://api.example.com/~user/a-b"),
    ("https://api.example.com/caf%c3%a9", "https://api.example.com/caf%C3%A9"),
    ("https://api.example.com/café", "https://api.example.com/caf%C3%A9"),
    ("https://api.example.com/a%3Ab", "https://api.example.com/a:b"),
    ("https://api.example.com/api/me/", "https://api.example.com/api/me/?page=2"),
    ("https://[::1]:443/x", "https://[::1]/x"),
    ("wss://api.example.com:443/ws/", "wss://api.example.com/ws/"),
])
def test_uris_that_name_the_same_resource_match(htu, uri):
    assert dpop.normalize_uri(htu) == dpop.normalize_uri(uri)


@pytest.mark.parametrize("htu, uri", [
    ("https://api.example.com/a", "https://api.example.com/a/"),
    ("https://api.example.com/a/", "https://api.example.com/a"),
    ("http://api.example.com/a", "https://api.example.com/a"),
    ("https://api.example.com:8443/a", "https://api.example.com/a"),
    ("https://api.example.com/A", "https://api.example.com/a"),
    ("https://api.example.com/b", "https://api.example.com/a/../b"),
    ("https://api.example.com/a%20", "https://api.example.com/a"),
    ("https://api.example.com.evil.example/a", "https://api.example.com/a"),
])
def test_uris_of_other_resources_do_not_match(htu, uri):
    assert dpop.normalize_uri(htu) != dpop.normalize_uri(uri)


def test_request_uri_is_the_url_the_client_addressed_behind_a_proxy(settings):
    settings.ALLOWED_HOSTS = ["api.example.com", "internal"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    request = RequestFactory().get("/api/m%C3%A9/a%3Fb?page=2", HTTP_HOST="internal",
                                   HTTP_X_FORWARDED_PROTO="https",
                                   HTTP_X_FORWARDED_HOST="api.example.com")
    assert http.request_uri(request) == "https://api.example.com/api/m%C3%A9/a%3Fb"
    key = private_key()
    for htu in ("https://api.example.com/api/mé/a%3Fb",
                "https://API.example.com:443/api/m%c3%a9/a%3fb"):
        dpop.check_proof(make_proof(key, htu=htu), method="GET", uri=http.request_uri(request),
                         now=NOW)
    refused("query or fragment", dpop.check_proof,
            make_proof(key, htu="https://api.example.com/api/mé/a?b"), method="GET",
            uri=http.request_uri(request), now=NOW)


def test_request_uri_without_a_proxy_is_the_connections(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    request = RequestFactory().post("/api/auth/login/")
    assert http.request_uri(request) == "http://testserver/api/auth/login/"


# --- the key cache ------------------------------------------------------------------------------

def test_a_key_is_imported_once_then_served_from_the_cache(monkeypatch):
    cache = dpop.KeyCache(2)
    monkeypatch.setattr(dpop.keys, "key_cache", cache)
    first, second, third = private_key(), private_key("EdDSA"), private_key()
    for _ in range(5):
        dpop.verify_proof(make_proof(first), method="GET", uri=URL, now=NOW)
    assert cache.imports == 1
    dpop.verify_proof(make_proof(second, "EdDSA"), method="GET", uri=URL, now=NOW)
    dpop.verify_proof(make_proof(first), method="GET", uri=URL, now=NOW)  # the latest used
    assert cache.imports == 2
    dpop.verify_proof(make_proof(third), method="GET", uri=URL, now=NOW)  # evicts the EdDSA key
    assert (cache.imports, len(cache)) == (3, 2)
    dpop.verify_proof(make_proof(first), method="GET", uri=URL, now=NOW)
    assert cache.imports == 3
    dpop.verify_proof(make_proof(second, "EdDSA"), method="GET", uri=URL, now=NOW)
    assert cache.imports == 4


def test_a_cached_key_still_needs_the_algorithm_its_type_allows(monkeypatch):
    cache = dpop.KeyCache(8)
    monkeypatch.setattr(dpop.keys, "key_cache", cache)
    key = private_key("RS256")
    dpop.check_proof(make_proof(key, "RS256"), method="GET", uri=URL, now=NOW)
    dpop.check_proof(make_proof(key, "PS256"), method="GET", uri=URL, now=NOW)
    assert cache.imports == 1
    payload = make_proof(key, "RS256").split(".", 1)[1]
    forged = _b64({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key, "RS256")})
    refused("not a P-256 key", dpop.check_proof, forged + "." + payload, method="GET", uri=URL,
            now=NOW)


# --- nonces -------------------------------------------------------------------------------------

ROTATION = 300
SLOT_START = (NOW // ROTATION) * ROTATION


@pytest.fixture
def nonces(settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_NONCE": True,
                            "DPOP_NONCE_ROTATION": timedelta(seconds=ROTATION)}


def test_a_proof_without_the_nonce_is_told_to_use_one(key, nonces):
    with pytest.raises(dpop.ProofError) as caught:
        dpop.verify_proof(make_proof(key, htm="POST"), method="POST", uri=URL, now=NOW)
    assert caught.value.code == USE_DPOP_NONCE
    assert caught.value.nonce == dpop.current_nonce(NOW)
    assert recorded_replays() == []
    dpop.verify_proof(make_proof(key, htm="POST", nonce=caught.value.nonce), method="POST",
                      uri=URL, now=NOW)
    with pytest.raises(dpop.ProofError) as stale:
        dpop.verify_proof(make_proof(key, nonce="made-up"), method="GET", uri=URL, now=NOW)
    assert stale.value.code == USE_DPOP_NONCE


def test_a_wrong_proof_is_refused_as_wrong_before_being_asked_for_a_nonce(key, nonces):
    refused("htm", dpop.check_proof, make_proof(key, htm="POST"), method="GET", uri=URL, now=NOW)


def test_a_nonce_lives_one_to_two_rotations(nonces):
    issued_at = SLOT_START + 1
    nonce = dpop.current_nonce(issued_at)
    assert dpop.nonce_is_current(nonce, issued_at + ROTATION - 2)
    assert dpop.nonce_is_current(nonce, issued_at + ROTATION)  # the previous slot's
    assert not dpop.nonce_is_current(nonce, issued_at + 2 * ROTATION)  # two slots later
    assert dpop.current_nonce(issued_at + ROTATION) != nonce
    # A host whose clock runs a few seconds ahead may issue the next slot's nonce already.
    early = dpop.current_nonce(SLOT_START + ROTATION + 3)
    assert dpop.nonce_is_current(early, SLOT_START + ROTATION - 3)
    assert not dpop.nonce_is_current(early, SLOT_START + ROTATION - 30)
    assert not dpop.nonce_is_current(None, issued_at)


def test_nonces_come_from_the_signing_key(nonces, settings):
    nonce = dpop.current_nonce(NOW)
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "SIGNING_KEY": "another-key-" + "x" * 40}
    assert dpop.current_nonce(NOW) != nonce
    assert not dpop.nonce_is_current(nonce, NOW)


HOST_SCRIPT = """
import json, sys
import django
django.setup()
from django.conf import settings
from django_doubletoken import dpop
from django_doubletoken.conf import doubletoken_settings
request = json.load(sys.stdin)
settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_NONCE": True}
doubletoken_settings.reload()
try:
    dpop.verify_proof(request["proof"], method="GET", uri=request["uri"], now=request["now"])
    outcome = "accepted"
except dpop.ProofError as exc:
    outcome = exc.code + ": " + exc.reason
print(json.dumps({"nonce": dpop.current_nonce(request["now"]), "outcome": outcome}))
"""


def on_another_host(proof, now):
    """Checks ``proof`` in a process of its own (its own settings object and key cache,
    the same Redis): what a second host does."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "TEST_REDIS_URL": django_settings.REDIS_URL}
    done = subprocess.run([sys.executable, "-c", HOST_SCRIPT], input=json.dumps(
        {"proof": proof, "uri": URL, "now": now}), capture_output=True, text=True, env=env,
        cwd=os.path.dirname(os.path.dirname(__file__)), timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_hosts_share_nonces_and_the_replay_store(key, nonces):
    nonce = dpop.current_nonce(NOW)
    proof = make_proof(key, nonce=nonce)
    # Host B issues the same nonce, accepts the proof made with A's nonce...
    other = on_another_host(proof, NOW)
    assert other == {"nonce": nonce, "outcome": "accepted"}
    # ... and recorded it, so A refuses it as a replay.
    refused(dpop.REPLAYED, dpop.verify_proof, proof, method="GET", uri=URL, now=NOW)
    # A proof A accepted is refused by B.
    second = make_proof(key, nonce=nonce)
    dpop.verify_proof(second, method="GET", uri=URL, now=NOW)
    assert on_another_host(second, NOW)["outcome"] == f"{INVALID_DPOP_PROOF}: {dpop.REPLAYED}"
    # Two slots on, B asks for a fresh nonce.
    late = make_proof(key, nonce=nonce, iat=NOW + 2 * ROTATION)
    assert on_another_host(late, NOW + 2 * ROTATION)["outcome"].startswith(USE_DPOP_NONCE)


# --- interoperability: proofs made by requests-oauth2client (jwskate), not by us --------------

@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256", "PS256"])
def test_proofs_of_an_independent_client_library_are_accepted(alg, settings):
    key = DPoPKey.generate(alg=alg)
    jkt = dpop.jwk_thumbprint(key.public_jwk.to_dict())
    # A token request: the library's proof for a POST (it drops the query from htu itself).
    token_proof = str(key.proof(htm="POST", htu="https://api.example.com/api/auth/login/?x=1"))
    login = dpop.verify_proof(token_proof, method="POST",
                              uri="https://api.example.com/api/auth/login/")
    assert login.jkt == jkt
    # A resource request the library signs as a requests auth handler (its own ath).
    prepared = requests.Request("GET", "https://api.example.com/api/me/?page=1",
                                auth=DPoPToken(TOKEN, _dpop_key=key)).prepare()
    assert prepared.headers["Authorization"] == f"DPoP {TOKEN}"
    dpop.verify_proof(prepared.headers["DPoP"], method="GET", uri=prepared.url,
                      access_token=TOKEN, jkt=jkt)
    # And with a server nonce, as the library sends it after a use_dpop_nonce.
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_NONCE": True}
    with pytest.raises(dpop.ProofError) as caught:
        dpop.verify_proof(str(key.proof(htm="POST", htu=URL)), method="POST", uri=URL)
    nonced = str(key.proof(htm="POST", htu=URL, nonce=caught.value.nonce))
    assert dpop.verify_proof(nonced, method="POST", uri=URL).jkt == jkt


# npm's `dpop` (panva), pinned; installed once per version into the user's cache directory.
NPM_DPOP = "dpop@2.1.2"


@pytest.fixture(scope="session")
def npm_dpop():
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node (20 or later) and npm are needed for the JS interop test"
    prefix = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / \
        "django-doubletoken" / "npm" / NPM_DPOP
    if not (prefix / "node_modules" / "dpop" / "package.json").exists():
        done = subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund",
                               "--prefix", str(prefix), NPM_DPOP],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"npm install {NPM_DPOP} failed:\n{done.stderr}"
    return node, prefix / "node_modules"


def proofs_from_npm(npm_dpop, algorithms, requests_to_sign):
    node, node_modules = npm_dpop
    script = Path(__file__).parent / "js_interop" / "dpop_proofs.mjs"
    # Evaluated from the install's folder, so that its `import 'dpop'` finds the package
    # (ES modules ignore NODE_PATH).
    done = subprocess.run([node, "--input-type=module", "--eval", script.read_text()],
                          input=json.dumps({"algorithms": algorithms,
                                            "requests": requests_to_sign}),
                          capture_output=True, text=True, timeout=60, cwd=node_modules.parent)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_proofs_of_the_npm_dpop_package_are_accepted(npm_dpop, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_NONCE": True,
                            "DPOP_ALGORITHMS": ["ES256", "Ed25519", "RS256", "PS256"]}
    base = "https://api.example.com/api"
    nonce = dpop.current_nonce()
    flow = [  # login, a GET, refresh, logout; each proof with the server's nonce
        ["POST", f"{base}/auth/login/", None, nonce],
        ["GET", f"{base}/me/", TOKEN, nonce],
        ["POST", f"{base}/auth/refresh/", None, nonce],
        ["POST", f"{base}/auth/logout/", TOKEN, nonce],
        ["GET", f"{base}/me/", TOKEN, None],
    ]
    made = proofs_from_npm(npm_dpop, ["ES256", "Ed25519", "RS256", "PS256"], flow)
    for alg, result in made.items():
        login, me, refresh, logout, without_nonce = result["proofs"]
        jkt = dpop.verify_proof(login, method="POST", uri=f"{base}/auth/login/").jkt
        dpop.verify_proof(me, method="GET", uri=f"{base}/me/", access_token=TOKEN, jkt=jkt)
        dpop.verify_proof(refresh, method="POST", uri=f"{base}/auth/refresh/", jkt=jkt)
        dpop.verify_proof(logout, method="POST", uri=f"{base}/auth/logout/",
                          access_token=TOKEN, jkt=jkt)
        with pytest.raises(dpop.ProofError) as caught:
            dpop.verify_proof(without_nonce, method="GET", uri=f"{base}/me/",
                              access_token=TOKEN, jkt=jkt)
        assert caught.value.code == USE_DPOP_NONCE, alg
        refused(dpop.REPLAYED, dpop.verify_proof, me, method="GET", uri=f"{base}/me/",
                access_token=TOKEN, jkt=jkt)
    assert len(recorded_replays()) == 4 * len(made)


# --- the error contract -----------------------------------------------------------------------

def test_dpop_errors_render_the_rfc_9449_challenges(settings):
    from django_doubletoken.api_errors import challenge, error_body

    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_ALGORITHMS": ["ES256", "PS256"]}
    assert dpop.challenge_scheme() == 'DPoP algs="ES256 PS256"'
    assert challenge(INVALID_DPOP_PROOF, dpop.challenge_scheme()) == (
        'DPoP algs="ES256 PS256", error="invalid_dpop_proof", '
        'error_description="invalid_dpop_proof"')
    assert challenge(USE_DPOP_NONCE, dpop.challenge_scheme()).endswith(
        'error="use_dpop_nonce", error_description="use_dpop_nonce"')
    assert error_body(USE_DPOP_NONCE)["code"] == USE_DPOP_NONCE
    assert dpop.error_status(USE_DPOP_NONCE, token_endpoint=True) == 400
    assert dpop.error_status(USE_DPOP_NONCE, token_endpoint=False) == 401
    assert dpop.error_status(INVALID_DPOP_PROOF, token_endpoint=True) == 401


# --- settings -------------------------------------------------------------------------------

def _dpop_errors(settings, **doubletoken):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **doubletoken}
    return sorted((e.id, e.msg) for e in check_settings() if e.id >= "django_doubletoken.E050")


def test_the_default_dpop_settings_are_clean(settings):
    assert _dpop_errors(settings) == []
    assert _dpop_errors(settings, DPOP="required", DPOP_NONCE=True,
                        CLIENT_PROFILES={"web": {"DPOP": "optional"}, "mobile": {}}) == []


@pytest.mark.parametrize("override, expected", [
    ({"DPOP": "on"}, "E050"),
    ({"DPOP": True}, "E050"),
    ({"CLIENT_PROFILES": {"web": {"DPOP": "always"}}}, "E050"),
    ({"DPOP_ALGORITHMS": []}, "E051"),
    ({"DPOP_ALGORITHMS": "ES256"}, "E051"),
    ({"DPOP_ALGORITHMS": ["none"]}, "E052"),
    ({"DPOP_ALGORITHMS": ["ES256", "HS256"]}, "E052"),
    ({"DPOP_ALGORITHMS": ["es256"]}, "E052"),
    ({"DPOP_PROOF_MAX_AGE": 60}, "E054"),
    ({"DPOP_PROOF_MAX_AGE": timedelta(0)}, "E054"),
    ({"DPOP_NONCE_ROTATION": timedelta(seconds=-5)}, "E054"),
    ({"DPOP_NONCE": "yes"}, "E055"),
])
def test_bad_dpop_settings_are_reported(settings, override, expected):
    assert [error_id for error_id, _ in _dpop_errors(settings, **override)] == \
        [f"django_doubletoken.{expected}"]


def test_hmac_and_none_are_refused_by_name(settings):
    ((_, message),) = _dpop_errors(settings, DPOP_ALGORITHMS=["HS256", "none", "ES256"])
    assert "['HS256', 'none']" in message and "never with 'none'" in message


def test_an_algorithm_pyjwt_cannot_verify_is_reported_when_dpop_is_on(settings, monkeypatch):
    real = jwt.get_algorithm_by_name

    def without_cryptography(name):
        if name != "HS256":
            raise NotImplementedError("Algorithm not supported")
        return real(name)

    monkeypatch.setattr(jwt, "get_algorithm_by_name", without_cryptography)
    assert _dpop_errors(settings) == []  # DPoP off: nothing to verify
    ids = [error_id for error_id, _ in _dpop_errors(
        settings, CLIENT_PROFILES={"web": {"DPOP": "optional"}, "mobile": {}})]
    assert ids == ["django_doubletoken.E053"]


def test_profiles_carry_their_dpop_mode(settings):
    from django_doubletoken.conf import doubletoken_settings

    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP": "optional",
                            "CLIENT_PROFILES": {"web": {}, "mobile": {"DPOP": "required"}}}
    assert doubletoken_settings.profile("web").dpop == "optional"
    assert doubletoken_settings.profile("mobile").dpop == "required"
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP": "off"}
    assert doubletoken_settings.profile("web").dpop == "off"
