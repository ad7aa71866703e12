"""Step-up guards (RFC 9470) on every face: the same rule, the same 401 challenge and body,
no query and no extra cache round trip, nothing revoked or slid by a refusal."""

import time

import pytest
from django.test import Client

from django_doubletoken import stepup
from django_doubletoken.models import DeviceSession
from django_doubletoken.stepup import InsufficientAuthentication, Requirement

from .helpers import access_token, bearer

pytestmark = pytest.mark.django_db

RECENT = ["/stepup/drf/", "/stepup/drf-and/", "/stepup/drf-class/", "/stepup/ninja/recent",
          "/stepup/ninja/recent-async", "/stepup/plain/", "/stepup/plain-async/",
          "/stepup/plain-class/"]
ACR = ["/stepup/ninja/acr", "/stepup/plain-acr/"]
RECENCY_CHALLENGE = ('Bearer realm="api", error="insufficient_user_authentication", '
                     'error_description="More recent authentication is required", max_age=300')
LEVEL_CHALLENGE = ('Bearer realm="api", error="insufficient_user_authentication", '
                   'error_description="A different authentication level is required", '
                   'acr_values="mfa"')


def _get(url, token):
    return Client().get(url, **bearer(token))


def _refused(response, challenge, **fields):
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == challenge
    body = response.json()
    assert body == {"detail": body["detail"], "code": "insufficient_user_authentication",
                    **fields}
    assert body["detail"]


@pytest.mark.parametrize("url", RECENT)
def test_a_recent_authentication_passes_an_old_one_gets_the_rfc_9470_challenge(url, user,
                                                                              login):
    pair = login()
    now = int(time.time())

    fresh = _get(url, access_token(pair, auth_time=now - 10))
    old = _get(url, access_token(pair, auth_time=now - 301))
    unknown = _get(url, access_token(pair))  # a token without auth_time never meets max_age

    assert fresh.status_code == 200, fresh.content
    assert fresh.json() == {"pk": user.pk, "sid": pair["session_id"]}
    _refused(old, RECENCY_CHALLENGE, max_age=300)
    _refused(unknown, RECENCY_CHALLENGE, max_age=300)


@pytest.mark.parametrize("url", ACR)
def test_require_acr(url, user, login):
    pair = login()
    now = int(time.time())

    strong = _get(url, access_token(pair, auth_time=now, acr="mfa"))
    weak = _get(url, access_token(pair, auth_time=now, acr="pwd"))

    assert strong.status_code == 200, strong.content
    _refused(weak, LEVEL_CHALLENGE, acr_values="mfa")


@pytest.mark.parametrize("url", [*RECENT, *ACR, "/stepup/drf-both/"])
def test_without_a_token_it_is_the_usual_401(url):
    response = Client().get(url)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_both_requirements_unmet_are_one_challenge_naming_both(user, login):
    pair = login()
    now = int(time.time())

    both = _get("/stepup/drf-both/", access_token(pair, auth_time=now - 600, acr="pwd"))
    only_old = _get("/stepup/drf-both/", access_token(pair, auth_time=now - 600, acr="hwk"))
    ok = _get("/stepup/drf-both/", access_token(pair, auth_time=now, acr="hwk"))

    _refused(both, 'Bearer realm="api", error="insufficient_user_authentication", '
                   'error_description="A different authentication level is required", '
                   'acr_values="mfa hwk", max_age=300', acr_values="mfa hwk", max_age=300)
    _refused(only_old, RECENCY_CHALLENGE, max_age=300)
    assert ok.status_code == 200


def test_or_with_a_drf_permission(user, login, django_user_model):
    pair = login()
    weak = access_token(pair, auth_time=int(time.time()), acr="pwd")

    refused = _get("/stepup/drf-acr-or-admin/", weak)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    admitted = _get("/stepup/drf-acr-or-admin/", weak)

    _refused(refused, LEVEL_CHALLENGE, acr_values="mfa")
    assert admitted.status_code == 200


def test_a_refusal_revokes_nothing_and_slides_nothing(user, login):
    pair = login()
    now = int(time.time())
    # Near expiry: a 200 would carry a successor; a refusal does not, and changes nothing.
    near_expiry = access_token(pair, remaining=30, auth_time=now - 3600)

    refused = _get("/stepup/drf/", near_expiry)
    unguarded = _get("/whoami-pk/", near_expiry)

    _refused(refused, RECENCY_CHALLENGE, max_age=300)
    assert "NEW_HTTP_AUTHORIZATION" not in refused
    assert unguarded.status_code == 200 and "NEW_HTTP_AUTHORIZATION" in unguarded
    assert DeviceSession.objects.get(pk=pair["session_id"]).revoked_at is None


@pytest.mark.parametrize("url", ["/stepup/drf/", "/stepup/ninja/recent", "/stepup/plain/"])
def test_a_passing_guard_slides_as_any_view(url, user, login):
    pair = login()
    near_expiry = access_token(pair, remaining=30, auth_time=int(time.time()))

    passed = _get(url, near_expiry)

    assert passed.status_code == 200
    slid = passed["NEW_HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    assert _get(url, slid).status_code == 200  # the successor carries the same auth_time


def test_auth_router_refuses_an_unknown_operation_name():
    from django_doubletoken.ninja import StepUpAuth, auth_router

    with pytest.raises(ValueError, match="logout-other"):
        auth_router(auth_for={"logout-other": StepUpAuth(max_age=60)})


@pytest.mark.parametrize("url", ["/stepup/drf/", "/stepup/ninja/recent", "/stepup/plain/"])
def test_the_guard_reads_claims_only(url, user, login, django_assert_num_queries,
                                     counting_cache):
    """Hot path: a guarded request costs what an unguarded one does, one cache round trip
    and no query, pass or refuse."""
    pair = login()
    now = int(time.time())
    fresh, old = access_token(pair, auth_time=now), access_token(pair, auth_time=now - 3600)
    _get("/whoami-pk/", fresh)  # last_used_at is written at most once per interval: now
    counting_cache.calls.clear()

    with django_assert_num_queries(0):
        unguarded = _get("/whoami-pk/", fresh)
    baseline = list(counting_cache.calls)
    counting_cache.calls.clear()
    with django_assert_num_queries(0):
        passed = _get(url, fresh)
    passed_calls = list(counting_cache.calls)
    counting_cache.calls.clear()
    with django_assert_num_queries(0):
        refused = _get(url, old)

    assert unguarded.status_code == passed.status_code == 200 and refused.status_code == 401
    assert baseline == passed_calls == counting_cache.calls == ["get_many"]


def test_check_authentication_is_the_core_rule():
    now = 1_000_000
    claims = {"auth_time": now - 100, "acr": "pwd"}

    stepup.check_authentication(claims, max_age=100, now=now)
    stepup.check_authentication(claims, acr_values="pwd mfa", now=now)
    with pytest.raises(InsufficientAuthentication) as old:
        stepup.check_authentication(claims, max_age=99, now=now)
    with pytest.raises(InsufficientAuthentication) as weak:
        stepup.check_authentication(claims, max_age=100, acr_values=["mfa"], now=now)
    with pytest.raises(InsufficientAuthentication):
        stepup.check_authentication({"auth_time": True}, max_age=10**9, now=now)

    assert old.value.requirement == Requirement(max_age=99)
    assert old.value.code == "insufficient_user_authentication"
    assert weak.value.requirement == Requirement(acr_values=("mfa",))


@pytest.mark.parametrize("bad", [{}, {"max_age": -1}, {"max_age": 1.5}, {"max_age": True},
                                 {"acr_values": ["a b"]}, {"acr_values": ['a"']},
                                 {"acr_values": [""]}])
def test_a_requirement_that_cannot_be_written_in_a_challenge_is_refused(bad):
    with pytest.raises(ValueError):
        stepup.requirement(**bad)


def test_guards_cannot_be_negated():
    from django_doubletoken.permissions import RecentAuthentication

    with pytest.raises(TypeError):
        ~RecentAuthentication(max_age=60)
