"""Forged and confused tokens (RFC 8725, RFC 9068, OWASP JWT cheat sheet): each is refused
with 401 and the right code, never a 500, never accepted. Tokens are crafted with PyJWT or by
hand, not with the app's own encoder."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from .helpers import KEY, KID, access_claims, bearer, craft

pytestmark = pytest.mark.django_db


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header_json: str, payload_json: str, key: str = KEY) -> str:
    """HS256 over exactly these JSON texts (PyJWT would normalise duplicates away)."""
    signing_input = f"{b64(header_json.encode())}.{b64(payload_json.encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def _attacks(pair, refresh, other_user_pk):
    now = int(time.time())
    good = access_claims(pair)
    head, body, sig = craft(good).split(".")

    def unsigned(alg):
        return (f"{b64(json.dumps({'alg': alg, 'typ': 'at+jwt', 'kid': KID}).encode())}."
                f"{b64(json.dumps(good).encode())}.")

    header = json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": KID})
    dup_sub = json.dumps(good)[:-1] + f', "sub": "{other_user_pk}"}}'
    dup_kid = header[:-1] + ', "kid": "x"}'
    other_alg = b64(json.dumps({"alg": "HS512", "typ": "at+jwt", "kid": KID}).encode())
    critical = json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": KID, "crit": ["exp"]})
    # An HS256 signature is 32 bytes: its last base64url character carries 2 unused bits, so
    # flipping them spells the same bytes differently.
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(sig[-1])
    respelled = sig[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[
        last ^ 1]
    return {
        **{f"alg {alg}": (unsigned(alg), "token_invalid") for alg in ("none", "None", "NONE",
                                                                    "nOnE")},
        "alg none, signature kept": (unsigned("none") + sig, "token_invalid"),
        "refresh token as access token": (refresh, "token_invalid"),
        "typ of a refresh token": (craft(good, typ="rt+jwt"), "token_invalid"),
        "no typ": (jwt.encode(good, KEY, algorithm="HS256", headers={"kid": KID}),
                   "token_invalid"),
        "other key": (craft(good, key="k" * 40), "token_invalid"),
        "tampered payload": (f"{head}.{craft({**good, 'sub': str(other_user_pk)}).split('.')[1]}"
                             f".{sig}", "token_invalid"),
        "tampered header": (f"{other_alg}.{body}.{sig}", "token_invalid"),
        "stripped signature": (f"{head}.{body}.", "token_invalid"),
        "two segments": (f"{head}.{body}", "token_invalid"),
        "unknown kid": (craft(good, kid="not-ours"), "token_invalid"),
        "no kid": (craft(good, kid=None), "token_invalid"),
        "expired": (craft({**good, "iat": now - 900, "exp": now - 60}), "token_expired"),
        "nbf in the future": (craft({**good, "nbf": now + 600}), "token_invalid"),
        "exp as a string": (craft({**good, "exp": str(now + 600)}), "token_invalid"),
        "exp huge": (craft({**good, "exp": 10**15}), "token_invalid"),
        "exp far beyond the lifetime": (craft({**good, "iat": now, "exp": now + 86400}),
                                        "token_invalid"),
        "iat in the future": (craft({**good, "iat": now + 600, "exp": now + 900}),
                              "token_invalid"),
        "crit header": (hand_signed(critical, json.dumps(good)), "token_invalid"),
        "padded segments": (f"{head}=.{body}.{sig}", "token_invalid"),
        "signature re-spelled": (f"{head}.{body}.{respelled}", "token_invalid"),
        "iat as a float": (craft({**good, "iat": now - 0.5}), "token_invalid"),
        "duplicate claim": (hand_signed(header, dup_sub), "token_invalid"),
        "duplicate header member": (hand_signed(dup_kid, json.dumps(good)), "token_invalid"),
        "missing sub": (craft({k: v for k, v in good.items() if k != "sub"}), "token_invalid"),
        "missing sid": (craft({k: v for k, v in good.items() if k != "sid"}), "token_invalid"),
        "missing exp": (craft({k: v for k, v in good.items() if k != "exp"}), "token_invalid"),
        "payload not an object": (hand_signed(header, "[1, 2]"), "token_invalid"),
        "session of another user": (craft({**good, "sub": str(other_user_pk)}),
                                    "token_invalid"),
        "sid that is no session": (craft({**good, "sid": "6f1d0c3e-0000-4000-8000-000000000000"}),
                                   "session_revoked"),
    }


def test_forged_and_confused_tokens(api, user, other_user, login):
    pair = login()
    attacks = _attacks(pair, pair["refresh"], other_user.pk)
    outcomes = {}
    for name, (token, _) in attacks.items():
        response = api.get("/api/me/", **bearer(token))
        outcomes[name] = (response.status_code, response.json().get("code"))
        assert response["WWW-Authenticate"].startswith("Bearer"), name
    assert outcomes == {name: (401, code) for name, (_, code) in attacks.items()}
    assert api.get("/api/me/", **bearer(pair["access"])).status_code == 200  # control


def test_access_token_as_refresh_token(api, user, login):
    pair = login()
    response = api.post("/api/auth/refresh/", {"refresh": pair["access"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "token_invalid")


@pytest.mark.parametrize(
    "header, code",
    [
        ("Bearer " + "A" * 10 * 1024 * 1024, "token_invalid"),  # 10 MB
        ("Bearer eyJ\x00abc.def.ghi", "token_invalid"),
        ("Bearer ëyJhbGciOi.é.ü", "token_invalid"),
        ("Bearer", "token_invalid"),
        ("Bearer    ", "token_invalid"),
        ("Bearer a.b.c d.e.f", "token_invalid"),
        ("Token abc", "not_authenticated"),
        ("Basic YWxpY2U6eA==", "not_authenticated"),
        ("", "not_authenticated"),
    ],
)
def test_hostile_authorization_headers(api, header, code):
    response = api.get("/api/me/", HTTP_AUTHORIZATION=header)
    assert (response.status_code, response.json()["code"]) == (401, code)


def test_deleted_and_inactive_users(api, user, other_user, login):
    alice, bob = login(), login("bob")
    user.is_active = False
    user.save()
    other_user.delete()
    for pair in (alice, bob):
        response = api.get("/api/me/", **bearer(pair["access"]))
        assert (response.status_code, response.json()["code"]) == (401, "session_revoked")
