"""A response whose request revoked its own session never carries a new access token, and no
successor is stored for it: on DRF, Ninja, plain and async views, whatever did the revoking.

Every request here carries an access token inside the sliding window, so without the rule
each of these successful responses would carry ``NEW_HTTP_AUTHORIZATION``.
"""

import asyncio

import jwt
import pytest
from django.test import AsyncClient, Client

from django_doubletoken import services, store
from django_doubletoken.models import DeviceSession

from .helpers import access_token, bearer

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "NEW_HTTP_AUTHORIZATION"
DRF = "/api/auth/"
NINJA = "/api/ninja/auth/"
NINJA_ASYNC = "/ninja-tests/async-auth/"


def _near_expiry(pair):
    return access_token(pair, remaining=60)


def _assert_no_successor(pair, token):
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert store.cache().get(store.successor_key(pair["session_id"], jti)) is None


def _assert_revoked_without_new_token(response, pair, token, status=204):
    assert response.status_code == status, response.content
    assert HEADER not in response
    _assert_no_successor(pair, token)
    assert DeviceSession.objects.get(pk=pair["session_id"]).revoked_at is not None


def _async_post(path, token, method="post"):
    async def go():
        client = AsyncClient()
        return await getattr(client, method)(path, headers={"Authorization": f"Bearer {token}"})
    return asyncio.run(go())


@pytest.mark.parametrize("path", [f"{DRF}logout/", f"{DRF}logout-all/", f"{NINJA}logout/",
                                  f"{NINJA}logout-all/", f"{NINJA_ASYNC}logout/",
                                  f"{NINJA_ASYNC}logout-all/"])
def test_logging_out_sends_no_new_token(user, login, path):
    pair = login()
    token = _near_expiry(pair)
    _assert_revoked_without_new_token(Client().post(path, **bearer(token)), pair, token)


@pytest.mark.parametrize("path", [f"{DRF}logout/", f"{NINJA}logout-all/",
                                  f"{NINJA_ASYNC}logout/"])
def test_logging_out_on_the_async_path_sends_no_new_token(user, login, path):
    pair = login()
    token = _near_expiry(pair)
    _assert_revoked_without_new_token(_async_post(path, token), pair, token)


@pytest.mark.parametrize("prefix", [DRF, NINJA, NINJA_ASYNC])
def test_deleting_the_current_session_from_the_device_list_sends_no_new_token(
        user, login, prefix):
    pair = login()
    token = _near_expiry(pair)
    response = Client().delete(f"{prefix}sessions/{pair['session_id']}/", **bearer(token))
    _assert_revoked_without_new_token(response, pair, token)


@pytest.mark.parametrize("path", ["/self-revoking/drf-password/",
                                  "/self-revoking/plain-password/"])
def test_a_password_change_through_the_api_sends_no_new_token(user, login, path):
    pair = login()
    token = _near_expiry(pair)
    _assert_revoked_without_new_token(Client().post(path, **bearer(token)), pair, token, 200)


@pytest.mark.parametrize("path", ["/self-revoking/async-logout/",
                                  "/self-revoking/async-unauthenticated/"])
def test_async_views_that_revoke_their_session_send_no_new_token(user, login, path):
    pair = login()
    token = _near_expiry(pair)
    _assert_revoked_without_new_token(_async_post(path, token, "get"), pair, token, 200)


def test_an_admin_action_on_the_own_session_sends_no_new_token(django_user_model, password):
    staff = django_user_model.objects.create_superuser("root", "root@example.com", password)
    pair = services.login(staff)
    as_dict = {"access": pair.access, "session_id": str(pair.session_id)}
    token = _near_expiry(as_dict)
    client = Client()
    client.force_login(staff)
    response = client.post(
        "/admin/django_doubletoken/devicesession/",
        {"action": "log_out_sessions", "_selected_action": [str(pair.session_id)]},
        **bearer(token),
    )
    _assert_revoked_without_new_token(response, as_dict, token, 302)


def test_a_successor_issued_earlier_is_withheld_too(user, login):
    """The token slid on an earlier request (its successor is cached): logging out with the
    old token inside the grace window answers without handing that successor out again."""
    pair = login()
    token = _near_expiry(pair)
    assert HEADER in Client().get("/whoami-pk/", **bearer(token))
    response = Client().post(f"{DRF}logout/", **bearer(token))
    assert response.status_code == 204 and HEADER not in response


def test_revoking_another_session_still_slides_this_one(user, login):
    mine, other = login(), login()
    token = _near_expiry(mine)
    response = Client().delete(f"{DRF}sessions/{other['session_id']}/", **bearer(token))
    assert response.status_code == 204 and response[HEADER].startswith("Bearer ")


def test_outside_a_request_revoking_leaves_no_trace(user, login):
    """The set of revoked sessions lives only as long as one request."""
    pair = login()
    services.revoke_session(pair["session_id"], "logout")
    fresh = login()
    token = _near_expiry(fresh)
    assert Client().get("/whoami-pk/", **bearer(token))[HEADER].startswith("Bearer ")
