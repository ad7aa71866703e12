import time

import jwt
import pytest

from django_doubletoken import tokens
from django_doubletoken.errors import TokenError

from .helpers import KEY, KID, access_claims, craft

pytestmark = pytest.mark.django_db


def _code(fn, raw):
    with pytest.raises(TokenError) as info:
        fn(raw)
    return info.value.code


def test_access_token_header_and_claims(user, login):
    pair = login()
    header = jwt.get_unverified_header(pair["access"])
    assert header == {"alg": "HS256", "typ": "at+jwt", "kid": KID}
    claims = jwt.decode(pair["access"], KEY, algorithms=["HS256"])
    assert set(claims) == {"sub", "sid", "jti", "iat", "exp", "client", "sxp"}
    assert claims["sub"] == str(user.pk)
    assert claims["sid"] == pair["session_id"]
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert jwt.get_unverified_header(pair["refresh"])["typ"] == "rt+jwt"


def test_iss_and_aud_when_configured(user, login, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "ISSUER": "https://api.example",
                            "AUDIENCE": "example-app"}
    pair = login()
    claims = jwt.decode(pair["access"], KEY, algorithms=["HS256"], audience="example-app")
    assert claims["iss"] == "https://api.example" and claims["aud"] == "example-app"
    assert tokens.decode_access(pair["access"]).sid == pair["session_id"]
    # The same token under another issuer or audience is refused.
    for other in ({"ISSUER": "https://evil.example"}, {"AUDIENCE": "other-app"}):
        settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "ISSUER": "https://api.example",
                                "AUDIENCE": "example-app", **other}
        assert _code(tokens.decode_access, pair["access"]) == "token_invalid"


def test_token_types_never_cross(user, login):
    pair = login()
    assert _code(tokens.decode_access, pair["refresh"]) == "token_invalid"
    assert _code(tokens.decode_refresh, pair["access"]) == "token_invalid"


def test_access_token_without_typ_is_refused(user, login):
    pair = login()
    claims = access_claims(pair)
    untyped = jwt.encode(claims, KEY, algorithm="HS256", headers={"kid": KID})
    assert _code(tokens.decode_access, untyped) == "token_invalid"


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(user, login, alg):
    pair = login()
    header = {"alg": alg, "typ": "at+jwt", "kid": KID}
    import base64
    import json

    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    unsigned = f"{b64(header)}.{b64(access_claims(pair))}."
    assert _code(tokens.decode_access, unsigned) == "token_invalid"


def test_wrong_key_and_tampering_are_refused(user, login):
    pair = login()
    forged = craft(access_claims(pair), key="another-key-0123456789abcdef0123456789")
    assert _code(tokens.decode_access, forged) == "token_invalid"
    head, body, sig = pair["access"].split(".")
    other_body = craft(access_claims(pair, sub="999")).split(".")[1]
    assert _code(tokens.decode_access, f"{head}.{other_body}.{sig}") == "token_invalid"
    assert _code(tokens.decode_access, f"{head}.{body}.") == "token_invalid"


def test_expiry_nbf_and_leeway(user, login):
    pair = login()
    now = int(time.time())
    expired = craft(access_claims(pair, iat=now - 900, exp=now - 60))
    assert _code(tokens.decode_access, expired) == "token_expired"
    # Within the 10 s leeway it still passes.
    just_expired = craft(access_claims(pair, iat=now - 900, exp=now - 3))
    assert tokens.decode_access(just_expired).exp == now - 3
    future = craft(access_claims(pair, nbf=now + 120))
    assert _code(tokens.decode_access, future) == "token_invalid"
    refresh_claims = jwt.decode(pair["refresh"], KEY, algorithms=["HS256"])
    old_refresh = craft({**refresh_claims, "exp": now - 60}, typ="rt+jwt")
    assert _code(tokens.decode_refresh, old_refresh) == "session_expired"


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": "9999999999"},
        {"exp": 10**12},  # far beyond any configured lifetime
        {"sid": None},
        {"jti": None},
        {"sub": 42},
        {"iat": True},
        {"sxp": None},
    ],
)
def test_malformed_claims_are_refused(user, login, overrides):
    pair = login()
    assert _code(tokens.decode_access, craft(access_claims(pair, **overrides))) == "token_invalid"


@pytest.mark.parametrize("raw", ["", "abc", "a.b.c", "x" * 5000, "é.é.é", None, 12])
def test_garbage_is_refused(raw):
    assert _code(tokens.decode_access, raw) == "token_invalid"


def test_rotation_pair_is_deterministic(user, login):
    from django_doubletoken import services
    from django_doubletoken.models import DeviceSession

    pair = login()
    session = DeviceSession.objects.get(pk=pair["session_id"])
    assert services.issue_pair(session) == services.issue_pair(session)
    assert services.issue_pair(session).refresh == pair["refresh"]
