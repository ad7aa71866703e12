"""adrf: an async DRF view with the stock DoubleTokenAuthentication behaves as a DRF view
does -- the same answers, error contract and sliding re-issue -- with no database query."""

import asyncio

import pytest
from django.db.backends.utils import CursorWrapper

from django_doubletoken import services
from django_doubletoken.models import RevokeReason

from .helpers import access_token

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "NEW_HTTP_AUTHORIZATION"


def _get(async_client, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def go():
        return await async_client.get("/adrf/me/", headers=headers)

    return asyncio.run(go())


@pytest.fixture
def statements(monkeypatch):
    """SQL statements run on any thread (adrf authenticates in a worker thread, whose
    connection a CaptureQueriesContext on this thread would not see)."""
    executed = []
    original = CursorWrapper.execute

    def execute(self, sql, params=None):
        executed.append(sql)
        return original(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", execute)
    return executed


def test_a_valid_token_without_a_query(async_client, user, login, statements):
    pair = login()
    _get(async_client, pair["access"])  # warm up: the session's state is in the cache
    statements.clear()
    response = _get(async_client, pair["access"])
    assert response.status_code == 200
    assert response.json() == {"user": user.pk, "session": pair["session_id"]}
    assert HEADER not in response
    assert statements == []


def test_refusals_keep_the_error_contract(async_client, user, login):
    missing = _get(async_client)
    assert missing.status_code == 401
    assert missing.json()["code"] == "not_authenticated"
    assert missing["WWW-Authenticate"] == 'Bearer realm="api"'

    pair = login()
    services.revoke_session(pair["session_id"], RevokeReason.LOGOUT)
    revoked = _get(async_client, pair["access"])
    assert revoked.status_code == 401
    assert revoked.json()["code"] == "session_revoked"
    assert revoked["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')


def test_inside_the_sliding_window_a_successor_comes_back(async_client, user, login,
                                                          redis_wire):
    pair = login()
    near = access_token(pair, remaining=60)
    redis_wire.clear()
    first = _get(async_client, near)
    assert first.status_code == 200 and first[HEADER].startswith("Bearer ")
    # One round trip: the read with the successor's SET NX.
    assert [names for kind, names in redis_wire if kind == "send"] == [["MGET", "SET"]]
    # The same old token again: the same stored successor, not a second one.
    assert _get(async_client, near)[HEADER] == first[HEADER]
    successor = first[HEADER].removeprefix("Bearer ")
    assert HEADER not in _get(async_client, successor)
