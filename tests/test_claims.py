"""Custom claims (ACCESS_TOKEN_CLAIMS): into tokens at login and refresh, carried unchanged by
slides without a database read, refused clearly when they cannot go into a token."""

import time

import jwt
import pytest
import requests
from django.contrib.auth.models import Group

from django_doubletoken import claims as claims_module
from django_doubletoken.checks import check_settings
from django_doubletoken.claims import ClaimsError
from django_doubletoken.models import DeviceSession

from .helpers import KEY, bearer
from .test_keys import _pem_pair

pytestmark = pytest.mark.django_db

HEADER = "NEW_HTTP_AUTHORIZATION"
EXAMPLE = "example_project.claims.access_claims"


def _use(settings, path, **more):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "ACCESS_TOKEN_CLAIMS": path, **more}


def _payload(token):
    return jwt.decode(token, KEY, algorithms=["HS256"])


def _near_expiry(token, seconds=60):
    """The same token re-signed to expire in ``seconds`` (its custom claims kept)."""
    payload = _payload(token)
    lifetime = payload["exp"] - payload["iat"]
    now = int(time.time())
    payload["iat"], payload["exp"] = now + seconds - lifetime, now + seconds
    return jwt.encode(payload, KEY, algorithm="HS256", headers=jwt.get_unverified_header(token))


def test_roles_across_login_slide_and_refresh(settings, api, user, login,
                                              django_assert_num_queries):
    _use(settings, EXAMPLE)
    editors = Group.objects.create(name="editors")
    user.groups.add(editors)
    pair = login()
    assert _payload(pair["access"])["roles"] == ["editors"]
    assert api.get("/claims/", **bearer(pair["access"])).json() == {
        "roles": ["editors"], "custom": {"roles": ["editors"]}, "sid": pair["session_id"]}

    # A role change: slides carry the claims as they were, without reading the database...
    user.groups.add(Group.objects.create(name="admins"))
    with django_assert_num_queries(0):
        slid = api.get("/claims/", **bearer(_near_expiry(pair["access"])))
    new_access = slid[HEADER].removeprefix("Bearer ")
    assert _payload(new_access)["roles"] == ["editors"]
    assert slid.json()["roles"] == ["editors"]

    # ...and the next refresh brings the new ones.
    refreshed = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert _payload(refreshed.json()["access"])["roles"] == ["admins", "editors"]
    assert "roles" not in _payload(refreshed.json()["refresh"])  # access tokens only


def test_the_function_gets_the_user_and_the_session(settings, api, user, login):
    _use(settings, "tests.claims_functions.session_label")
    pair = login(device="phone")
    custom = api.get("/claims/", **bearer(pair["access"])).json()["custom"]
    assert custom == {"device": "phone", "tenant": {"id": 7, "plan": "pro"},
                      "pk_seen": str(user.pk)}
    # The refresh's fast path hands the function the full session as well.
    refreshed = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert _payload(refreshed.json()["access"])["device"] == "phone"


def test_no_claims_by_default(api, user, login):
    pair = login()
    assert set(_payload(pair["access"])) == {"sub", "sid", "jti", "iat", "exp", "client", "sxp",
                                             "auth_time", "acr", "amr"}
    assert api.get("/claims/", **bearer(pair["access"])).json()["custom"] == {}


@pytest.mark.parametrize("function, message", [
    ("reserved", "'sid', which django-doubletoken sets itself"),
    ("not_json", "'since' with a value JSON cannot represent (date)"),
    ("a_tuple", "'roles' with a value JSON cannot represent (tuple)"),
    ("not_a_dict", "must return a dict of claims, not list"),
    ("too_big", "over MAX_TOKEN_LENGTH (4096)"),
])
def test_bad_claims_are_refused_at_login_and_nothing_is_kept(settings, api, user, password,
                                                             function, message):
    _use(settings, f"tests.claims_functions.{function}")
    with pytest.raises(ClaimsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        api.post("/api/auth/login/", {"username": "alice", "password": password},
                 format="json")
    assert not DeviceSession.objects.exists()


def test_bad_claims_at_refresh_change_nothing(settings, api, user, login):
    pair = login()
    generation = DeviceSession.objects.get(pk=pair["session_id"]).refresh_generation
    _use(settings, "tests.claims_functions.too_big")
    with pytest.raises(ClaimsError, match="MAX_TOKEN_LENGTH"):
        api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert DeviceSession.objects.get(pk=pair["session_id"]).refresh_generation == generation
    _use(settings, EXAMPLE)  # fixed: the same refresh token still works
    refreshed = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 200 and _payload(refreshed.json()["access"])["roles"] == []


@pytest.mark.parametrize("value", ["tests.nowhere.claims", "tests.claims_functions", 3])
def test_a_bad_setting_is_reported(settings, value):
    _use(settings, value)
    errors = [e for e in check_settings() if e.id == "django_doubletoken.E023"]
    assert len(errors) == 1 and "ACCESS_TOKEN_CLAIMS" in errors[0].msg and errors[0].hint


def test_checked_claims_reads_json_exactly():
    assert claims_module.checked_claims({"a": [1, 2.5, None, True, {"b": "c"}]}) == {
        "a": [1, 2.5, None, True, {"b": "c"}]}
    for bad in ({"a": float("nan")}, {"a": {1: "x"}}, {"": 1}, {1: 1}, {"a": b"x"}):
        with pytest.raises(ClaimsError):
            claims_module.checked_claims(bad)


def test_a_resource_server_reads_roles_with_plain_pyjwt(settings, live_server, user, password,
                                                        transactional_db):
    """The recipe of docs/how-to/extending.md: another service verifies our access token with
    the JWKS endpoint and reads the roles, with nothing of this app installed."""
    private, _ = _pem_pair("ES256")
    _use(settings, EXAMPLE, ALGORITHM="ES256", SIGNING_KEY=private)
    user.groups.add(Group.objects.create(name="editors"))
    base = live_server.url
    token = requests.post(f"{base}/api/auth/login/", timeout=10,
                          json={"username": "alice", "password": password}).json()["access"]

    jwks = jwt.PyJWKClient(f"{base}/api/auth/jwks/")
    claims = jwt.decode(token, jwks.get_signing_key_from_jwt(token).key, algorithms=["ES256"],
                        options={"require": ["exp", "sub"]})
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    assert claims["roles"] == ["editors"] and claims["sub"] == str(user.pk)
