import base64
import json
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
    assert set(claims) == {"sub", "sid", "jti", "iat", "exp", "client", "sxp", "auth_time",
                           "acr", "amr"}
    assert (claims["acr"], claims["amr"]) == ("pwd", ["pwd"])  # a password login
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


def _pem(private) -> str:
    from cryptography.hazmat.primitives import serialization

    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()


def _signing_key(algorithm: str) -> str | None:
    """A fresh private key in PEM for ``algorithm``; None for the test settings' HS256 secret."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if algorithm == "HS256":
        return None
    if algorithm == "HS512":
        return "a-dedicated-secret-of-sixty-four-bytes-for-hs512-" + "x" * 16
    private = {
        "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "PS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "EdDSA": ed25519.Ed25519PrivateKey.generate,
        "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    }[algorithm]()
    return _pem(private)


@pytest.mark.parametrize("algorithm", ["HS256", "HS512", "RS256", "PS256", "EdDSA", "ES256"])
def test_encoding_is_pyjwts_encode(settings, algorithm):
    """``tokens._encode`` signs without PyJWT's ``encode`` but must write what it writes: the
    same header (sorted, compact), the same payload JSON (claim order, non-ASCII escaped) and,
    for deterministic algorithms, the same signature."""
    key = _signing_key(algorithm)
    chosen = {"ALGORITHM": algorithm, "SIGNING_KEY": key} if key else {}
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **chosen, "ISSUER": "https://api.example",
                            "AUDIENCE": ["app", "ädmin"]}
    ring = tokens.key_ring()
    custom = {"roles": ["staff", "ünïcode"], "score": 1.5, "flag": True, "none": None,
              "nested": {"b": 1, "a": [2, "x"]}}
    access = tokens.encode_access(sub="7", sid="s", jti="j", iat=1_700_000_000,
                                  exp=1_700_000_900, client="web", session_expires=1_700_086_400,
                                  custom=custom)
    refresh = tokens.encode_refresh(sub="7", sid="s", generation=3, iat=1_700_000_000,
                                    exp=1_700_086_400, client="web",
                                    absolute_expires=1_702_592_000)
    for raw, typ in ((access, tokens.ACCESS_TYP), (refresh, tokens.REFRESH_TYP)):
        header_and_payload, _, signature = raw.rpartition(".")
        payload = json.loads(base64.urlsafe_b64decode(raw.split(".")[1] + "=="))
        expected = jwt.encode(payload, ring.signing_key, algorithm=ring.algorithm,
                              headers={"typ": typ, "kid": ring.signing_kid})
        if algorithm in ("ES256", "PS256"):  # randomised signatures: compare all but those
            assert header_and_payload == expected.rpartition(".")[0]
            verifying_key = ring.verifying_keys[ring.signing_kid]
            decoded = jwt.decode(raw, verifying_key, algorithms=[algorithm], audience="app",
                                 options={"verify_exp": False})
            assert decoded == payload
        else:
            assert raw == expected


def test_encoding_refuses_a_non_string_issuer_as_pyjwt_does(settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "ISSUER": 42}
    with pytest.raises(TypeError, match="Issuer"):
        tokens.encode_refresh(sub="7", sid="s", generation=1, iat=1, exp=2, client="web",
                              absolute_expires=3)


def test_a_short_hmac_key_warns_as_pyjwt_does(settings):
    if not hasattr(jwt, "InsecureKeyLengthWarning"):
        pytest.skip("this PyJWT has no key length check")
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "SIGNING_KEY": "short"}
    with pytest.warns(jwt.InsecureKeyLengthWarning):
        tokens.encode_refresh(sub="7", sid="s", generation=1, iat=1, exp=2, client="web",
                              absolute_expires=3)


def test_parsed_headers_are_shared_read_only_and_never_cache_a_refusal(user, login):
    pair = login()
    segment = pair["access"].split(".")[0]
    assert tokens._header(segment) is tokens._header(segment)
    with pytest.raises(TypeError):
        tokens._header(segment)["kid"] = "other"  # shared between requests: read-only
    assert tokens.decode_access(pair["access"]).sid == pair["session_id"]
    bad = base64.urlsafe_b64encode(b'{"alg":"HS256","alg":"none"}').rstrip(b"=").decode()
    forged = ".".join([bad, *pair["access"].split(".")[1:]])
    for _ in range(2):
        assert _code(tokens.decode_access, forged) == "token_invalid"
