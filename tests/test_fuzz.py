"""Property tests: no Authorization header, request body or forwarding header makes the API
answer 5xx (or, for an error, anything but JSON with a code)."""

import json
import os
from collections import Counter
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from django_doubletoken import services

from .conftest import FUZZ_REPORT
from .helpers import bearer

pytestmark = pytest.mark.django_db

# FUZZ_EXAMPLES=2000 for a deeper run than the suite's.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None,
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


# --- every endpoint: nesting depth, size, body types, forwarding headers (issue 14) --------

TEN_MB = 10 * 1024 * 1024
# (method, path, needs a token); "{sid}" is the fuzzed session's id.
ENDPOINTS = [
    ("POST", "/api/auth/login/", False),
    ("POST", "/api/auth/refresh/", False),
    ("POST", "/api/auth/verify/", False),
    ("GET", "/api/auth/jwks/", False),
    ("POST", "/api/auth/logout/", True),
    ("POST", "/api/auth/logout-all/", True),
    ("GET", "/api/auth/sessions/", True),
    ("DELETE", "/api/auth/sessions/{sid}/", True),
    ("GET", "/api/me/", True),
    ("POST", "/echo/", False),  # a project view, parsers as in docs/explanation/security.md
]
FIELDS = {"/api/auth/login/": "username", "/api/auth/refresh/": "refresh",
          "/api/auth/verify/": "token"}
CONTENT_TYPES = [
    "application/json", "application/json; charset=utf-8", "application/json; charset=utf-16",
    "application/json; charset=no-such-codec", "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1", "multipart/form-data; boundary=xx",
    "multipart/form-data", "text/plain", "application/xml", "", "*/*", "application/json;;=",
]
FORWARDING_HEADERS = [
    "HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED", "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST", "HTTP_X_CLIENT_IP", "HTTP_CLIENT_IP", "HTTP_TRUE_CLIENT_IP",
    "HTTP_CF_CONNECTING_IP", "HTTP_X_CLUSTER_CLIENT_IP", "HTTP_ORIGIN", "HTTP_REFERER",
    "HTTP_SEC_FETCH_SITE", "HTTP_USER_AGENT", "REMOTE_ADDR",
]
header_text = st.text(alphabet=st.characters(max_codepoint=0xFF, exclude_categories=["Cs"]),
                      max_size=300)
address_lists = st.lists(st.ip_addresses().map(str) | header_text, min_size=1, max_size=5).map(
    ", ".join)
header_values = st.one_of(header_text, address_lists, st.ip_addresses().map(str))
# Settings a project may run with while the headers are fuzzed.
variants = st.fixed_dictionaries({
    "LOGIN_THROTTLE_RATE": st.sampled_from([None, "1000/min", "2/min"]),
    "CLIENT_IP_HEADER": st.sampled_from([None, "HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP"]),
    "REFRESH_COOKIE_NAME": st.sampled_from([None, "dt_refresh"]),
})

# (path, status) of every fuzzed request, reported at the end of the module.
answered: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def fuzz_report(request):
    """Counts of what the endpoints answered, printed in the terminal summary."""
    yield
    if not answered:
        return
    total = sum(answered.values())
    errors = sum(n for (_path, status), n in answered.items() if status >= 500)
    lines = [f"{total} fuzzed requests over {len(ENDPOINTS)} endpoints, {errors} answered "
             ">= 500"]
    for path in sorted({path for path, _ in answered}):
        statuses = ", ".join(f"{status}: {n}" for (p, status), n in sorted(answered.items())
                             if p == path)
        lines.append(f"  {path}  {statuses}")
    request.config.stash[FUZZ_REPORT] = lines


@pytest.fixture
def fuzz_api(user):
    """A client that returns a 500 instead of raising, so that it is counted, plus a way to
    get a live token (logout and friends revoke theirs) that no login throttle refuses."""
    client = APIClient()
    client.raise_request_exception = False
    client.fresh_pair = lambda: services.login(user, device="fuzz")
    return client


def _send(client, method, path, body=b"", content_type="application/json", **meta):
    pair = client.fresh_pair()
    url = path.format(sid=pair.session_id)
    if "REMOTE_ADDR" not in meta:
        meta["REMOTE_ADDR"] = "127.0.0.1"
    response = client.generic(method, url, body, content_type=content_type,
                              **bearer(pair.access), **meta)
    answered[(path, response.status_code)] += 1
    assert response.status_code < 500, (method, path, response.status_code, meta)
    if response.status_code >= 400 and response.content:
        assert response["Content-Type"].startswith("application/json"), (path, response)
        data = response.json()
        if isinstance(data, dict) and "detail" in data:
            assert data["code"], data
    return response


def _nested(depth: int, kind: str) -> str:
    opening, closing = ("[", "]") if kind == "list" else ('{"a":', "}")
    return opening * depth + ("" if kind == "list" else "1") + closing * depth


@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), depth=st.integers(0, 5000),
       kind=st.sampled_from(["list", "object"]), in_field=st.booleans())
def test_any_nesting_depth_on_every_endpoint(fuzz_api, endpoint, depth, kind, in_field):
    method, path, _ = endpoint
    body = _nested(depth, kind)
    if in_field:
        body = f'{{"{FIELDS.get(path, "a")}": {body}, "password": "x"}}'
    response = _send(fuzz_api, method, path, body)
    reads_body = path in FIELDS or path == "/echo/"
    if reads_body and depth + in_field > 64:
        assert response.status_code == 400 and response.json()["code"] == "parse_error"


@settings(FUZZ, max_examples=40)
@given(endpoint=st.sampled_from(ENDPOINTS),
       size=st.sampled_from([0, 1, 1024, 64 * 1024, 2_621_441, TEN_MB]),
       content_type=st.sampled_from(CONTENT_TYPES), filler=st.sampled_from([b"a", b"[", b"{"]))
def test_any_body_size_on_every_endpoint(fuzz_api, endpoint, size, content_type, filler):
    method, path, _ = endpoint
    body = filler * size
    response = _send(fuzz_api, method, path, body, content_type)
    too_big = size > 2_621_440 and content_type.startswith(("application/json",
                                                             "application/x-www-form"))
    if too_big and (path in FIELDS or path == "/echo/"):
        assert response.status_code == 413 and response.json()["code"] == "request_too_large"


@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), content_type=st.sampled_from(CONTENT_TYPES),
       body=st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=300),
                      st.text(max_size=300).map(lambda t: t.encode("utf-8", "replace"))))
def test_any_body_type_on_every_endpoint(fuzz_api, endpoint, content_type, body):
    method, path, _ = endpoint
    _send(fuzz_api, method, path, body, content_type)


@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), variant=variants,
       headers=st.dictionaries(st.sampled_from(FORWARDING_HEADERS), header_values, max_size=6),
       content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded"]),
       refresh_in_body=st.booleans())
def test_any_forwarding_headers_on_every_endpoint(fuzz_api, user, password, endpoint, variant,
                                                  headers, content_type, refresh_in_body):
    method, path, _ = endpoint
    body = {"username": "alice", "password": password, "token": "x"}
    if refresh_in_body:
        body["refresh"] = "x"
    elif variant["REFRESH_COOKIE_NAME"]:
        # The cookie refresh: Django's CSRF check sees the fuzzed Origin and Referer.
        fuzz_api.cookies[variant["REFRESH_COOKIE_NAME"]] = services.login(user).refresh
    raw = (json.dumps(body) if content_type == "application/json" else urlencode(body)).encode()
    with override_settings(DOUBLETOKEN={**django_settings.DOUBLETOKEN, **variant}):
        _send(fuzz_api, method, path, raw, content_type, **headers)
