"""Property tests: no Authorization header and no request body makes the API answer 5xx."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import bearer

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
token_like = st.one_of(
    st.text(),
    st.from_regex(r"[A-Za-z0-9_\-]{0,40}\.[A-Za-z0-9_\-]{0,80}\.[A-Za-z0-9_\-]{0,40}",
                  fullmatch=True),
)
# Bodies shaped like what each endpoint expects, with hostile values, and anything at all.
bodies = {
    "/api/auth/login/": st.one_of(json_values, st.fixed_dictionaries(
        {"username": json_values, "password": json_values},
        optional={"device": json_values, "client": json_values})),
    "/api/auth/refresh/": st.one_of(json_values, st.fixed_dictionaries({"refresh": token_like})),
    "/api/auth/verify/": st.one_of(json_values, st.fixed_dictionaries({"token": token_like})),
}


@pytest.fixture
def pair(user, login):
    return login()


@FUZZ
@given(header=st.text(alphabet=st.characters(max_codepoint=0x10FFFF, exclude_categories=["Cs"])))
def test_any_authorization_header(api, pair, header):
    response = api.get("/api/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code in (200, 401), (header, response.content)
    if response.status_code == 401:
        assert response.json()["code"]


@FUZZ
@given(token=token_like)
def test_any_bearer_token(api, pair, token):
    response = api.get("/api/me/", **bearer(token))
    assert response.status_code == 401 and response.json()["code"] in (
        "token_invalid", "token_expired")


@pytest.mark.parametrize("path", list(bodies))
def test_any_body(api, pair, path):
    @FUZZ
    @given(body=bodies[path])
    def check(body):
        response = api.post(path, json.dumps(body), content_type="application/json")
        assert response.status_code < 500, (body, response.content)
        assert response.status_code in (200, 400, 401), (body, response.status_code)

    check()


@FUZZ
@given(raw=st.binary(max_size=200))
def test_any_bytes_as_a_body(api, pair, raw):
    for path in bodies:
        response = api.post(path, raw, content_type="application/json")
        assert response.status_code in (400, 401), (raw, response.status_code)


@FUZZ
@given(session_id=st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]),
                          min_size=1, max_size=60).filter(lambda s: "/" not in s))
def test_any_session_id(api, pair, session_id):
    from urllib.parse import quote

    response = api.delete(f"/api/auth/sessions/{quote(session_id)}/", **bearer(pair["access"]))
    assert response.status_code in (404, 204), (session_id, response.status_code)
    assert response.status_code == 404 or session_id == pair["session_id"]
