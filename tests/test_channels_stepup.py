"""Step-up (RFC 9470) at the WebSocket handshake: ``step_up_required`` admits a socket only
when its token's authentication is recent enough (``auth_time``) or strong enough (``acr``),
and otherwise closes it with ``insufficient_user_authentication`` before the consumer runs.
In process through WebsocketCommunicator and channels-redis, and live under uvicorn with the
route docs/how-to/websockets.md shows (tests/asgi.py)."""

import json
import time
from datetime import timedelta

import pytest
import requests
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from django_doubletoken.channels import CLOSE_CODES, DoubleTokenAuthMiddleware, step_up_required
from django_doubletoken.models import DeviceSession

from .helpers import access_token
from .servers import app_server

pytestmark = pytest.mark.django_db(transaction=True)

CODE = "insufficient_user_authentication"
consumer_connects = []


class EchoConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        consumer_connects.append(self.scope["auth"].session_id)
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=json.dumps({"session": self.scope["auth"].session_id}))


@pytest.fixture(autouse=True)
def no_connects():
    consumer_connects.clear()


def application():
    return DoubleTokenAuthMiddleware(URLRouter([
        path("ws/recent/", step_up_required(EchoConsumer.as_asgi(), max_age=300)),
        path("ws/strong/", step_up_required(EchoConsumer.as_asgi(),
                                            acr_values=["urn:example:mfa", "urn:example:hw"])),
        path("ws/open/", EchoConsumer.as_asgi()),
    ]))


def _run(coroutine_function, *args):
    async def main():
        return await coroutine_function(*args)

    return async_to_sync(main)()


def _token(pair, **claims):
    return access_token(pair, **claims)


async def _outcome(route, token, first_message=False):
    """("open", session) or ("closed", code, reason) of a socket to ``route``."""
    protocols = None if first_message else ["doubletoken", token]
    ws = WebsocketCommunicator(application(), f"/ws/{route}/", subprotocols=protocols)
    connected, _ = await ws.connect()
    assert connected
    if first_message:
        await ws.send_to(text_data=json.dumps({"type": "doubletoken.authenticate",
                                               "token": token}))
        assert json.loads(await ws.receive_from())["type"] == "doubletoken.authenticated"
    await ws.send_to(text_data="hello")
    message = await ws.receive_output(timeout=3)
    if message["type"] == "websocket.close":
        return "closed", message["code"], message["reason"]
    assert message["type"] == "websocket.send", message
    await ws.disconnect()
    return "open", json.loads(message["text"])["session"]


def test_a_recent_authentication_passes(user, login):
    pair = login()
    token = _token(pair, auth_time=int(time.time()) - 60)

    async def go():
        ws = WebsocketCommunicator(application(), "/ws/recent/",
                                   subprotocols=["doubletoken", token])
        connected, _ = await ws.connect()
        assert connected
        await ws.send_to(text_data="hello")
        assert json.loads(await ws.receive_from())["session"] == pair["session_id"]
        await ws.disconnect()

    _run(go)
    assert consumer_connects == [pair["session_id"]]


@pytest.mark.parametrize("first_message", [False, True])
def test_an_old_authentication_is_refused_before_the_consumer_runs(user, login, first_message):
    pair = login()
    token = _token(pair, auth_time=int(time.time()) - 301)
    assert _run(_outcome, "recent", token, first_message) == (
        "closed", CLOSE_CODES[CODE], f"{CODE} max_age=300")
    assert consumer_connects == []
    # Refused, not revoked: the session and its other routes are untouched.
    assert DeviceSession.objects.get(pk=pair["session_id"]).revoked_at is None
    assert _run(_outcome, "open", token)[0] == "open"


def test_a_token_without_auth_time_never_meets_max_age(user, login):
    pair = login()
    token = _token(pair)  # crafted without auth_time
    assert _run(_outcome, "recent", token)[:2] == ("closed", CLOSE_CODES[CODE])


@pytest.mark.parametrize("acr, admitted", [
    ("urn:example:hw", True), ("urn:example:mfa", True), ("pwd", False), (None, False),
])
def test_acr_values(user, login, acr, admitted):
    pair = login()
    token = _token(pair, auth_time=int(time.time()), acr=acr)
    outcome = _run(_outcome, "strong", token)
    if admitted:
        assert outcome == ("open", pair["session_id"])
    else:
        assert outcome == ("closed", CLOSE_CODES[CODE],
                           f'{CODE} acr_values="urn:example:mfa urn:example:hw"')


def test_options_are_checked_when_the_route_is_built():
    for wrong in ({}, {"max_age": -1}, {"max_age": "300"}, {"acr_values": ["a b"]}):
        with pytest.raises(ValueError):
            step_up_required(EchoConsumer.as_asgi(), **wrong)
    assert step_up_required(EchoConsumer.as_asgi(),
                            max_age=timedelta(minutes=5)).requirement.max_age == 300


def test_outside_the_middleware_it_fails_loudly():
    app = step_up_required(EchoConsumer.as_asgi(), max_age=300)

    async def go():
        ws = WebsocketCommunicator(app, "/ws/")
        with pytest.raises(Exception, match="DoubleTokenAuthMiddleware"):
            await ws.connect()

    _run(go)


def test_live_route_of_the_docs(user, password, django_db_blocker):
    """tests/asgi.py's guarded route under uvicorn: a fresh login passes; a token of the same
    session whose authentication is older than max_age is closed with the code."""
    with django_db_blocker.unblock(), \
            app_server("uvicorn", workers=1, asgi="tests.asgi:application") as base:
        pair = requests.post(f"{base}/api/auth/login/", timeout=30, json={
            "username": "alice", "password": password}).json()
        url = base.replace("http://", "ws://") + "/ws/recent/"
        with connect(url, subprotocols=["doubletoken", pair["access"]], open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "tick"
        old = _token(pair, auth_time=int(time.time()) - 3600)
        with connect(url, subprotocols=["doubletoken", old], open_timeout=10) as ws, \
                pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            CLOSE_CODES[CODE], f"{CODE} max_age=300")
