"""Signals: sent after the change, on the async path with ``asend``; a receiver that raises
is logged and never changes the response."""

import asyncio
import logging

import jwt
import pytest
import requests
from django.core.cache import cache

from django_doubletoken import signals

from . import receivers
from .helpers import KEY, access_token, bearer
from .servers import app_server

HEADER = "NEW_HTTP_AUTHORIZATION"


def _jti(token: str) -> str:
    return jwt.decode(token, KEY, algorithms=["HS256"])["jti"]


def _failures(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == "django.dispatch" and record.levelno == logging.ERROR]


@pytest.fixture
def connected_receivers():
    receivers.connect()
    yield
    receivers.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_every_kind_of_receiver_runs_on_a_live_server(kind, user, login):
    """Under uvicorn the middleware takes its async path: the sync receiver's query runs in a
    worker thread, the coroutine in the loop, and the raising ones cost nothing but a log."""
    pair = login()
    with app_server(kind, workers=1, environ={receivers.ENV_SWITCH: "1"}) as base:
        for path in ("/async-plain/", "/whoami-pk/"):
            old = access_token(pair, remaining=60)
            response = requests.get(base + path, timeout=30,
                                    headers={"Authorization": f"Bearer {old}"})
            assert response.status_code == 200, response.text
            new = response.headers[HEADER].removeprefix("Bearer ")
            sid = pair["session_id"]
            assert cache.get(receivers.marker("sync", sid)) == "alice"
            assert cache.get(receivers.marker("async", sid)) == _jti(new)
            cache.delete_many([receivers.marker("sync", sid), receivers.marker("async", sid)])


@pytest.mark.django_db
def test_raising_receivers_are_logged_on_the_async_path(async_client, user, login, caplog,
                                                        connected_receivers):
    signals.token_slid.disconnect(dispatch_uid="sync_orm_receiver")  # no DB in this thread
    pair = login()
    old = access_token(pair, remaining=60)

    async def go():
        return await async_client.get("/async-plain/", headers={"Authorization": f"Bearer {old}"})

    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        response = asyncio.run(go())
    assert response.status_code == 200
    new = response[HEADER].removeprefix("Bearer ")
    assert cache.get(receivers.marker("async", pair["session_id"])) == _jti(new)
    failures = _failures(caplog)
    assert len(failures) == 2
    assert any("raising_receiver" in f and "sync receiver failure" in f for f in failures)
    assert any("raising_async_receiver" in f and "async receiver failure" in f for f in failures)


@pytest.mark.django_db
def test_raising_receivers_never_break_a_response(api, user, login, caplog,
                                                  connected_receivers):
    for signal in (signals.session_created, signals.session_refreshed,
                   signals.session_revoked):
        signal.connect(receivers.raising_receiver, dispatch_uid="raising")
    try:
        with caplog.at_level(logging.ERROR, logger="django.dispatch"):
            pair = login()  # session_created raised
            refreshed = api.post("/api/auth/refresh/", {"refresh": pair["refresh"]},
                                 format="json")
            assert refreshed.status_code == 200
            slid = api.get("/whoami-pk/", **bearer(access_token(refreshed.json(),
                                                                remaining=60)))
            assert slid.status_code == 200 and slid[HEADER]
            assert cache.get(receivers.marker("sync", pair["session_id"])) == "alice"
            logout = api.post("/api/auth/logout/", **bearer(refreshed.json()["access"]))
            assert logout.status_code == 204
    finally:
        for signal in (signals.session_created, signals.session_refreshed,
                       signals.session_revoked):
            signal.disconnect(dispatch_uid="raising")
    # created, refreshed, slid (sync + async raising receivers), revoked
    assert len(_failures(caplog)) == 5
    after = api.get("/whoami-pk/", **bearer(refreshed.json()["access"]))
    assert after.status_code == 401 and after.json()["code"] == "session_revoked"
