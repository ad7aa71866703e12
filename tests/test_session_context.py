"""The session context (tokens.SessionContext): the DPoP key binding and the user's last
authentication travel in every token of a session, and refresh and slide copy them unchanged."""

import time

import jwt
import pytest
from django.utils import timezone

from django_doubletoken import dpop, services, tokens
from django_doubletoken.claims import ClaimsError, checked_claims
from django_doubletoken.errors import TokenError
from django_doubletoken.models import DeviceSession
from django_doubletoken.tokens import SessionContext

from .dpop_keys import ProofKey
from .helpers import KEY, access_claims, craft

pytestmark = pytest.mark.django_db

JKT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"  # RFC 7638 §3.1's example thumbprint
REFRESH_URL = "https://api.example.com/api/auth/refresh/"


def _claims(token: str) -> dict:
    return jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_aud": False})


def test_login_records_when_the_user_authenticated(user):
    before = int(time.time())
    pair = services.login(user)
    after = int(time.time())
    access, refresh = _claims(pair.access), _claims(pair.refresh)
    assert before <= access["auth_time"] <= after
    assert refresh["auth_time"] == access["auth_time"]
    assert "cnf" not in access and "acr" not in access and "amr" not in access
    assert pair.token_type == "Bearer"
    row = DeviceSession.objects.get(pk=pair.session_id)
    assert int(row.auth_time.timestamp()) == access["auth_time"]
    assert row.context == tokens.decode_access(pair.access).context


def test_a_bound_context_is_in_both_tokens_and_the_row(user):
    context = SessionContext(jkt=JKT, acr="urn:example:strong", amr=("pwd", "otp"))
    pair = services.login(user, context=context)
    access = tokens.decode_access(pair.access)
    assert access.context.jkt == JKT and access.context.bound
    assert access["cnf"] == {"jkt": JKT} and access["amr"] == ["pwd", "otp"]
    assert access.context.auth_time is not None  # filled in with the login time
    assert tokens.decode_refresh(pair.refresh).context == access.context
    assert pair.token_type == "DPoP"
    row = DeviceSession.objects.get(pk=pair.session_id)
    assert (row.dpop_jkt, row.acr, row.amr) == (JKT, "urn:example:strong", "pwd otp")


def test_an_explicit_auth_time_is_kept(user):
    pair = services.login(user, context=SessionContext(auth_time=1_700_000_000))
    assert tokens.decode_access(pair.access).context.auth_time == 1_700_000_000


def test_refresh_copies_the_context_through_both_paths(user, settings):
    key = ProofKey()  # a bound session's refresh needs a proof by its key
    context = SessionContext(jkt=key.jkt, amr=("pwd",))
    pair = services.login(user, context=context)
    original = tokens.decode_access(pair.access).context

    def proof():
        return dpop.ProofRequest(key.proof("POST", REFRESH_URL), "POST", REFRESH_URL)

    for _ in range(3):  # the one-UPDATE path: the context comes from the refresh token
        pair = services.refresh(pair.refresh, proof=proof())
        assert tokens.decode_access(pair.access).context == original
        assert tokens.decode_refresh(pair.refresh).context == original
    # The locked path (custom claims read the row): the context comes from the row.
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN,
                            "ACCESS_TOKEN_CLAIMS": "tests.claims_functions.session_label"}
    pair = services.refresh(pair.refresh, proof=proof())
    assert tokens.decode_access(pair.access).context == original
    assert pair.token_type == "DPoP"


def test_slide_copies_the_context(user):
    pair = services.login(user, context=SessionContext(jkt=JKT, acr="1", amr=("pwd",)))
    original = tokens.decode_access(pair.access)
    # Five slides, each of the previous successor, as a client following the header would.
    token, claims = pair.access, original
    for _ in range(5):
        grant = services.AccessGrant(token, _near_expiry(claims))
        token = services.slide(grant)
        assert token is not None
        claims = tokens.decode_access(token)
        assert claims.context == original.context


def _near_expiry(claims: tokens.AccessClaims) -> tokens.AccessClaims:
    """The same claims as if the token were about to expire, so that it slides now."""
    now = int(time.time())
    return tokens.AccessClaims(
        sub=claims.sub, sid=claims.sid, jti=claims.jti, iat=now - 890, exp=now + 10,
        client=claims.client, session_expires=claims.session_expires, custom=claims.custom,
        context=claims.context,
    )


@pytest.mark.parametrize("claims", [
    {"cnf": "not-an-object"},
    {"cnf": {}},
    {"cnf": {"jkt": ""}},
    {"cnf": {"jkt": 7}},
    {"auth_time": "yesterday"},
    {"auth_time": True},
    {"auth_time": 1.5},
    {"acr": 1},
    {"amr": "pwd"},
    {"amr": ["pwd", 2]},
])
def test_a_malformed_context_claim_is_an_invalid_token(user, login, claims):
    pair = login()
    forged = craft(access_claims(pair, **claims))
    with pytest.raises(TokenError) as info:
        tokens.decode_access(forged)
    assert info.value.code == "token_invalid"


def test_tokens_without_a_context_still_verify(user, login):
    """Tokens issued before these claims existed: no binding, authentication time unknown."""
    pair = login()
    legacy = access_claims(pair)
    for name in ("cnf", "auth_time", "acr", "amr"):
        legacy.pop(name, None)
    claims = tokens.decode_access(craft(legacy))
    assert claims.context == SessionContext() and not claims.context.bound
    assert claims.get("auth_time") is None


@pytest.mark.parametrize("name", ["cnf", "auth_time", "acr", "amr"])
def test_custom_claims_cannot_take_a_context_name(name):
    with pytest.raises(ClaimsError, match=name):
        checked_claims({name: "x"})


def test_the_row_round_trips_the_context():
    context = SessionContext(jkt=JKT, auth_time=int(timezone.now().timestamp()), acr="2",
                             amr=("pwd", "hwk"))
    row = DeviceSession()
    row.context = context
    assert row.context == context
    row.context = SessionContext()
    assert (row.dpop_jkt, row.auth_time, row.acr, row.amr) == ("", None, "", "")
