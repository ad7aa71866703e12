"""DoubleTokenAuthMiddleware in process, through Channels' WebsocketCommunicator and the real
channels-redis layer: the options and edge cases the live-server tests do not reach."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ImproperlyConfigured

from django_doubletoken.channels import CLOSE_CODES, DoubleTokenAuthMiddleware

pytestmark = pytest.mark.django_db(transaction=True)


class EchoConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        chosen = "chat" if "chat" in self.scope["subprotocols"] else None
        await self.accept(subprotocol=chosen)

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=json.dumps({
            "text": text_data, "bytes": len(bytes_data or b""),
            "subprotocols": self.scope["subprotocols"], "user": self.scope["user"].pk,
            "session": self.scope["auth"].session_id,
        }))


def _run(coroutine_function):
    return async_to_sync(coroutine_function)()


async def _close_of(communicator):
    message = await communicator.receive_output(timeout=3)
    assert message["type"] == "websocket.close", message
    return message["code"], message["reason"]


def test_own_subprotocol_and_frames_reach_the_consumer(user, login):
    pair = login()
    app = DoubleTokenAuthMiddleware(EchoConsumer.as_asgi())

    async def go():
        ws = WebsocketCommunicator(app, "/ws/", subprotocols=["doubletoken", pair["access"],
                                                              "chat"])
        connected, subprotocol = await ws.connect()
        assert connected and subprotocol == "chat"
        await ws.send_to(text_data="hello")
        echo = json.loads(await ws.receive_from())
        assert echo == {"text": "hello", "bytes": 0, "subprotocols": ["doubletoken", "chat"],
                        "user": user.pk, "session": pair["session_id"]}
        await ws.send_to(bytes_data=b"\x00\x01")
        assert json.loads(await ws.receive_from())["bytes"] == 2
        await ws.disconnect()

    _run(go)


def test_first_message_timeout(user):
    app = DoubleTokenAuthMiddleware(EchoConsumer.as_asgi(), first_message_timeout=0.2)

    async def go():
        ws = WebsocketCommunicator(app, "/ws/")
        connected, _ = await ws.connect()
        assert connected
        assert await _close_of(ws) == (CLOSE_CODES["not_authenticated"], "not_authenticated")

    _run(go)


@pytest.mark.parametrize("frame", [
    "[" * 5000 + "]" * 5000,
    '{"type": "doubletoken.authenticate", "token": ' + "[" * 3000 + "]" * 3000 + "}",
    json.dumps({"type": "doubletoken.authenticate", "token": 123}),
    json.dumps({"type": "doubletoken.authenticate", "token": "a" * 9000}),
])
def test_hostile_first_messages_close_cleanly(user, frame):
    app = DoubleTokenAuthMiddleware(EchoConsumer.as_asgi())

    async def go():
        ws = WebsocketCommunicator(app, "/ws/")
        await ws.connect()
        await ws.send_to(text_data=frame)
        code, reason = await _close_of(ws)
        assert reason in ("not_authenticated", "token_invalid")
        assert code == CLOSE_CODES[reason]

    _run(go)


def test_query_string_only_when_enabled(user, login):
    pair = login()

    async def go(app):
        ws = WebsocketCommunicator(app, f"/ws/?access_token={pair['access']}")
        await ws.connect()
        await ws.send_to(text_data="hello")
        return json.loads(await ws.receive_from()), ws

    async def enabled():
        echo, ws = await go(DoubleTokenAuthMiddleware(EchoConsumer.as_asgi(),
                                                      query_param="access_token"))
        assert echo["session"] == pair["session_id"]
        await ws.disconnect()

    async def disabled():
        ws = WebsocketCommunicator(DoubleTokenAuthMiddleware(EchoConsumer.as_asgi()),
                                   f"/ws/?access_token={pair['access']}")
        await ws.connect()
        await ws.send_to(text_data="hello")
        assert await _close_of(ws) == (CLOSE_CODES["not_authenticated"], "not_authenticated")

    _run(enabled)
    _run(disabled)


def test_other_scopes_pass_through():
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["type"])

    async def go():
        await DoubleTokenAuthMiddleware(inner)({"type": "http"}, None, None)

    _run(go)
    assert seen == ["http"]


def test_refuses_to_start_without_a_channel_layer(settings):
    settings.CHANNEL_LAYERS = {}
    with pytest.raises(ImproperlyConfigured, match="CHANNEL_LAYERS"):
        DoubleTokenAuthMiddleware(EchoConsumer.as_asgi())


def test_store_down_at_the_handshake_is_try_again_later(user, login, settings):
    pair = login()
    settings.CACHES = {"default": {
        "BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}}}
    app = DoubleTokenAuthMiddleware(EchoConsumer.as_asgi())

    async def go():
        ws = WebsocketCommunicator(app, "/ws/", subprotocols=["doubletoken", pair["access"]])
        connected, subprotocol = await ws.connect()
        assert connected and subprotocol == "doubletoken"
        assert await _close_of(ws) == (1013, "cache_unavailable")

    _run(go)
