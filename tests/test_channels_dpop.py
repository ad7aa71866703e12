"""DPoP (RFC 9449) at the WebSocket handshake and at each renewal over the socket, in process
through Channels' WebsocketCommunicator, the real channels-redis layer and the real Redis of
the replay store: a bound token needs a fresh proof by its key, carried in the subprotocols
(``["doubletoken", access, "doubletoken.dpop", proof]``) or in the authenticate message
(``"dpop"``); every refusal closes the socket with its code and nothing else happens.
(The live uvicorn tests are in tests/test_websockets.py.)"""

import json
import re
import time

import jwt
import pytest
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django_redis import get_redis_connection

from django_doubletoken import dpop, services
from django_doubletoken.channels import CLOSE_CODES, DoubleTokenAuthMiddleware
from django_doubletoken.channels.proof import socket_uri
from django_doubletoken.tokens import SessionContext

from .helpers import access_token
from .test_dpop import make_proof, private_key

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "testserver"
URL = f"ws://{HOST}/ws/"
CONNECTS = []


class EchoConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        CONNECTS.append(self.scope["auth"].session_id)
        chosen = "chat" if "chat" in self.scope["subprotocols"] else None
        await self.accept(subprotocol=chosen)

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=json.dumps({
            "text": text_data, "subprotocols": self.scope["subprotocols"],
            "session": self.scope["auth"].session_id}))


@pytest.fixture(autouse=True)
def no_connects():
    CONNECTS.clear()


@pytest.fixture(scope="module")
def key():
    return private_key("ES256")


@pytest.fixture(scope="module")
def other_key():
    return private_key("ES256")


def thumbprint(key):
    return dpop.jwk_thumbprint(jwt.get_algorithm_by_name("ES256").to_jwk(key.public_key(),
                                                                         as_dict=True))


@pytest.fixture
def bound(user, key):
    """A session bound to ``key`` (as a DPoP login binds it): its token pair."""
    return services.login(user, client="web", context=SessionContext(jkt=thumbprint(key)))


def proof(key, token, *, url=URL, **claims):
    return make_proof(key, htu=url, iat=int(time.time()), ath=dpop.access_token_hash(token),
                      **claims)


def replay_records():
    return get_redis_connection("default").keys("*:dpop:*")


def _run(coroutine_function, *args):
    async def main():
        return await coroutine_function(*args)

    return async_to_sync(main)()


def communicator(subprotocols=None, path="/ws/", headers=None):
    app = DoubleTokenAuthMiddleware(EchoConsumer.as_asgi())
    return WebsocketCommunicator(app, path, subprotocols=subprotocols,
                                 headers=[(b"host", HOST.encode()), *(headers or [])])


async def _close_of(ws):
    message = await ws.receive_output(timeout=3)
    assert message["type"] == "websocket.close", message
    return message["code"], message["reason"]


async def _echo(ws):
    await ws.send_to(text_data="hello")
    return json.loads(await ws.receive_from())


def _refused(subprotocols, code="invalid_dpop_proof", path="/ws/", headers=None):
    """Open a socket that must be refused: (close code, reason)."""
    async def go():
        ws = communicator(subprotocols, path, headers)
        connected, _ = await ws.connect()
        assert connected  # accepted, then closed with the code (not an HTTP 403)
        return await _close_of(ws)

    closed = _run(go)
    assert closed[0] == CLOSE_CODES[code], closed
    assert CONNECTS == []  # the consumer never ran
    return closed


# --- the handshake -------------------------------------------------------------------------


def test_a_bound_token_with_its_proof_opens_the_socket(bound, key):
    access = bound.access

    async def go():
        ws = communicator(["doubletoken", access, "doubletoken.dpop", proof(key, access),
                           "chat"])
        connected, subprotocol = await ws.connect()
        assert connected and subprotocol == "chat"
        echo = await _echo(ws)
        # Neither the token nor the proof reaches the consumer.
        assert echo["subprotocols"] == ["doubletoken", "chat"]
        assert echo["session"] == bound.session_id
        await ws.disconnect()

    _run(go)
    assert len(replay_records()) == 1


def test_a_bound_token_without_a_proof_is_refused(bound):
    assert _refused(["doubletoken", bound.access]) == (4007, "invalid_dpop_proof")
    assert _refused(["doubletoken", bound.access, "doubletoken.dpop"])[1] == "invalid_dpop_proof"
    assert replay_records() == []


@pytest.mark.parametrize("case", [
    "another key", "another url", "a query in htu", "a trailing slash variant", "POST",
    "ath of another token", "stale", "garbage",
])
def test_a_wrong_handshake_proof_is_refused_and_nothing_recorded(bound, key, other_key, user,
                                                                 case):
    access = bound.access
    other = services.login(user, client="web", context=SessionContext(jkt=thumbprint(key)))
    made = {
        "another key": lambda: proof(other_key, access),
        "another url": lambda: proof(key, access, url=f"ws://{HOST}/ws/other/"),
        "a query in htu": lambda: proof(key, access, url=URL + "?room=1"),
        "a trailing slash variant": lambda: proof(key, access, url=URL.rstrip("/")),
        "POST": lambda: make_proof(key, htm="POST", htu=URL, iat=int(time.time()),
                                   ath=dpop.access_token_hash(access)),
        "ath of another token": lambda: proof(key, other.access),
        "stale": lambda: make_proof(key, htu=URL, iat=int(time.time()) - 3600,
                                    ath=dpop.access_token_hash(access)),
        "garbage": lambda: "not.a.proof",
    }[case]()
    assert _refused(["doubletoken", access, "doubletoken.dpop", made]) == (
        4007, "invalid_dpop_proof")
    assert replay_records() == []


def test_a_replayed_handshake_proof_is_refused(bound, key):
    access = bound.access
    used = proof(key, access)

    async def first():
        ws = communicator(["doubletoken", access, "doubletoken.dpop", used])
        connected, _ = await ws.connect()
        assert connected
        assert (await _echo(ws))["session"] == bound.session_id
        await ws.disconnect()

    _run(first)
    CONNECTS.clear()
    assert _refused(["doubletoken", access, "doubletoken.dpop", used]) == (
        4007, "invalid_dpop_proof")


def test_the_proof_names_the_url_as_seen_behind_the_proxy(bound, key, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    access = bound.access
    forwarded = [(b"x-forwarded-proto", b"https"), (b"x-forwarded-host", b"api.example.com")]
    # What the client addressed: wss on the public host; not the hop's ws://testserver.
    _refused(["doubletoken", access, "doubletoken.dpop", proof(key, access)],
             headers=forwarded)

    async def go():
        ws = communicator(["doubletoken", access, "doubletoken.dpop",
                           proof(key, access, url="wss://api.example.com/ws/")],
                          headers=forwarded)
        connected, _ = await ws.connect()
        assert connected
        assert (await _echo(ws))["session"] == bound.session_id
        await ws.disconnect()

    _run(go)


@pytest.mark.parametrize("scope, uri", [
    ({"scheme": "ws", "headers": [(b"host", b"h.example")], "path": "/ws/a b/"},
     "ws://h.example/ws/a%20b/"),
    ({"scheme": "wss", "headers": [(b"host", b"h.example:443")], "path": "/ws/",
      "query_string": b"token=x"}, "wss://h.example:443/ws/"),
    ({"server": ("10.0.0.1", 8000), "headers": [], "path": "/ws/"}, "ws://10.0.0.1:8000/ws/"),
    # Raw bytes that are not UTF-8 in the query (no part of htu) are no error.
    ({"headers": [(b"host", b"h.example")], "path": "/ws/", "query_string": b"a=\xff"},
     "ws://h.example/ws/"),
])
def test_socket_uri(scope, uri):
    assert socket_uri({"type": "websocket", **scope}) == uri


def test_the_proof_may_come_in_the_first_message(bound, key):
    access = bound.access

    async def go(message):
        ws = communicator()
        connected, _ = await ws.connect()
        assert connected
        await ws.send_to(text_data=json.dumps(message))
        return ws

    async def with_proof():
        ws = await go({"type": "doubletoken.authenticate", "token": access,
                       "dpop": proof(key, access)})
        assert json.loads(await ws.receive_from())["type"] == "doubletoken.authenticated"
        assert (await _echo(ws))["session"] == bound.session_id
        await ws.disconnect()

    async def without():
        ws = await go({"type": "doubletoken.authenticate", "token": access})
        assert await _close_of(ws) == (4007, "invalid_dpop_proof")

    async def not_a_string():
        ws = await go({"type": "doubletoken.authenticate", "token": access, "dpop": 12})
        assert await _close_of(ws) == (4007, "invalid_dpop_proof")

    _run(with_proof)
    _run(without)
    _run(not_a_string)
    assert len(replay_records()) == 1


# --- renewal over the socket ---------------------------------------------------------------


def test_a_renewal_needs_a_fresh_proof_of_the_new_token(bound, key, other_key):
    access = bound.access
    # Another access token of the same session, bound to the same key (as a refresh or a
    # slide gives the client).
    fresh = access_token({"access": access, "session_id": bound.session_id},
                         remaining=900, cnf={"jkt": thumbprint(key)})
    assert fresh != access

    async def opened():
        ws = communicator(["doubletoken", access, "doubletoken.dpop", proof(key, access)])
        connected, _ = await ws.connect()
        assert connected
        return ws

    async def renew(ws, message):
        await ws.send_to(text_data=json.dumps({"type": "doubletoken.authenticate", **message}))

    async def good():
        ws = await opened()
        await renew(ws, {"token": fresh, "dpop": proof(key, fresh)})
        assert json.loads(await ws.receive_from())["type"] == "doubletoken.authenticated"
        assert (await _echo(ws))["session"] == bound.session_id
        await ws.disconnect()

    async def refused(message):
        ws = await opened()
        await renew(ws, message)
        assert await _close_of(ws) == (4007, "invalid_dpop_proof")

    async def renew_twice():
        ws = await opened()
        used = proof(key, fresh)
        await renew(ws, {"token": fresh, "dpop": used})
        assert json.loads(await ws.receive_from())["type"] == "doubletoken.authenticated"
        await renew(ws, {"token": fresh, "dpop": used})  # the same proof once more
        assert await _close_of(ws) == (4007, "invalid_dpop_proof")

    _run(good)
    _run(refused, {"token": fresh})
    _run(refused, {"token": fresh, "dpop": proof(other_key, fresh)})
    # The handshake's proof (the ath of the first token) does not renew with the new one.
    _run(refused, {"token": fresh, "dpop": proof(key, access)})
    _run(renew_twice)


# --- nonces --------------------------------------------------------------------------------


def test_a_proof_without_the_servers_nonce_is_told_it_in_the_close_reason(bound, key,
                                                                          settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_NONCE": True}
    access = bound.access
    code, reason = _refused(["doubletoken", access, "doubletoken.dpop", proof(key, access)],
                            code="use_dpop_nonce")
    assert code == 4008
    # As the auth-param of the HTTP challenge would carry it.
    name, nonce = re.fullmatch(r'(\w+) nonce="([^"]+)"', reason).groups()
    assert name == "use_dpop_nonce" and nonce == dpop.current_nonce()
    assert replay_records() == []

    async def go():
        ws = communicator(["doubletoken", access, "doubletoken.dpop",
                           proof(key, access, nonce=nonce)])
        connected, _ = await ws.connect()
        assert connected
        assert (await _echo(ws))["session"] == bound.session_id
        await ws.disconnect()

    _run(go)


# --- unbound tokens ------------------------------------------------------------------------


def test_an_unbound_token_with_a_proof_where_dpop_is_off_is_refused(user, login, key):
    pair = login()
    access = pair["access"]
    assert _refused(["doubletoken", access, "doubletoken.dpop", proof(key, access)]) == (
        4007, "invalid_dpop_proof")


def test_an_unbound_token_without_a_proof_is_served_as_before(user, login):
    pair = login()

    async def go():
        ws = communicator(["doubletoken", pair["access"]])
        connected, _ = await ws.connect()
        assert connected
        assert (await _echo(ws))["session"] == pair["session_id"]
        await ws.disconnect()

    _run(go)


@pytest.mark.parametrize("mode", ["optional", "required"])
def test_the_profiles_mode_applies_as_on_http(user, login, key, settings, mode):
    """Where the profile has DPoP on, a bound token still needs its proof, and an unbound one
    (opened before DPoP was required) is served with a valid proof or as Bearer, as on HTTP
    (its refresh is what a required profile refuses)."""
    pair = login()  # unbound: DPoP was off at login
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN,
                            "CLIENT_PROFILES": {"web": {"DPOP": mode}}}
    bound = services.login(user, client="web", context=SessionContext(jkt=thumbprint(key)))
    assert _refused(["doubletoken", bound.access]) == (4007, "invalid_dpop_proof")
    CONNECTS.clear()
    unbound = pair["access"]

    async def opens(protocols, session):
        ws = communicator(protocols)
        connected, _ = await ws.connect()
        assert connected
        assert (await _echo(ws))["session"] == session
        await ws.disconnect()

    _run(opens, ["doubletoken", bound.access, "doubletoken.dpop", proof(key, bound.access)],
         bound.session_id)
    _run(opens, ["doubletoken", unbound, "doubletoken.dpop", proof(key, unbound)],
         pair["session_id"])
    _run(opens, ["doubletoken", unbound], pair["session_id"])
    CONNECTS.clear()
    # An unbound token's proof is checked all the same.
    assert _refused(["doubletoken", unbound, "doubletoken.dpop",
                     proof(key, unbound, url=URL + "x/")]) == (4007, "invalid_dpop_proof")
