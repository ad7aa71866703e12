"""WebSockets stay up on the dependency versions pip resolves today (redis-py 8, whose
``socket_timeout`` defaults to 5 s while channels-redis blocks 5 s in each read), against real
uvicorn servers, channels-redis on the test Redis and a real WebSocket client:

- a standard consumer with a group of its own, set up as docs/websockets.md shows, idles a
  minute and still hears its group;
- a socket outlives an HTTP slide of the token it was opened with, until that token expires,
  even on a layer whose reads keep timing out (redis-py's default), and a revocation still
  closes it at once there;
- a frame the example consumer cannot take closes its socket with a close frame, and the
  server logs no task exception.
"""

import json
import time

import jwt
import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from django_doubletoken.channels import CLOSE_CODES

from .servers import app_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Open sockets of a revoked session close within this many seconds of the revoking call's
# answer (as in tests/test_websockets.py).
PROMISE = 1.0
# What a server's log must never show: a consumer or relay task that died unseen.
BAD_LOG_LINES = ("Task exception was never retrieved", "Traceback", "Timeout reading",
                 "channel layer unavailable")


def _ws(base, route="notifications"):
    return base.replace("http://", "ws://") + f"/ws/{route}/"


def _login(base, password, device="test"):
    response = requests.post(f"{base}/api/auth/login/", timeout=30, json={
        "username": "alice", "password": password, "device": device})
    assert response.status_code == 200, response.text
    return response.json()


def _open(base, token, route="notifications"):
    return connect(_ws(base, route), subprotocols=["doubletoken", token], open_timeout=10)


def _next_tick(ws, timeout=5.0):
    while True:
        message = json.loads(ws.recv(timeout=timeout))
        if message["type"] == "tick":
            return message


def _ticks_until_closed(ws):
    """Reads ticks until the server closes the socket: (close frame, ticks read)."""
    ticks = 0
    with pytest.raises(ConnectionClosed) as info:
        while True:
            _next_tick(ws)
            ticks += 1
    assert info.value.rcvd is not None, "no close frame from the server"
    return info.value.rcvd, ticks


def _assert_clean(log):
    text = log.read_text()
    for line in BAD_LOG_LINES:
        assert line not in text, text


def test_a_consumer_with_its_own_group_idles_a_minute(user, password, tmp_path):
    log = tmp_path / "uvicorn.log"
    with app_server("uvicorn", workers=1, asgi="tests.asgi:application", log=log) as base:
        pair = _login(base, password)
        with _open(base, pair["access"], route="room") as idle, \
                _open(base, pair["access"], route="room") as other:
            # Many blocking reads of the layer (5 s each) go by without a message.
            time.sleep(60)
            other.send("still there?")
            # Both sockets are open, and both consumers still read the layer: the group
            # message reaches them.
            assert idle.recv(timeout=5) == "still there?"
            assert other.recv(timeout=5) == "still there?"
    _assert_clean(log)


SLIDING = {"ACCESS_TOKEN_LIFETIME": 24, "SLIDING_THRESHOLD": 18, "GRACE_PERIOD": 1,
           "LEEWAY": 0, "CLIENT_PROFILES": {"web": {}}}


def test_a_socket_outlives_a_slide_of_its_token_until_it_expires(user, password, tmp_path):
    """On redis-py's default socket timeout the middleware's reads of the layer time out
    every 5 s; none of that is an outage, and none of it re-checks the slid token."""
    log = tmp_path / "uvicorn.log"
    environ = {"TICK_SECONDS": "1", "DOUBLETOKEN_TEST_CHANNEL_HOSTS": '["DEFAULT_HOSTS"]'}
    with app_server("uvicorn", workers=1, doubletoken=SLIDING, environ=environ,
                    log=log) as base:
        slid, other = _login(base, password, "slid"), _login(base, password, "other")
        with _open(base, slid["access"]) as ws, _open(base, other["access"]) as ws_other:
            _next_tick(ws)
            _next_tick(ws_other)
            expires = jwt.decode(slid["access"], options={"verify_signature": False})["exp"]
            time.sleep(max(0.0, expires - SLIDING["SLIDING_THRESHOLD"] + 0.5 - time.time()))
            # An HTTP request slides the socket's token; the old one is refused over HTTP
            # once the grace window is over.
            me = requests.get(f"{base}/api/me/", timeout=30,
                              headers={"Authorization": f"Bearer {slid['access']}"})
            assert me.status_code == 200 and me.headers.get("NEW_HTTP_AUTHORIZATION")
            time.sleep(1.5)
            again = requests.get(f"{base}/api/me/", timeout=30,
                                 headers={"Authorization": f"Bearer {slid['access']}"})
            assert again.json()["code"] == "token_revoked"
            # The other socket follows its slid token, as the JS client's openSocket does: it
            # outlives the first one and is open when its session is revoked.
            lasting = requests.get(f"{base}/api/me/", timeout=30, headers={
                "Authorization": f"Bearer {other['access']}"}).headers["NEW_HTTP_AUTHORIZATION"]
            lasting = lasting.removeprefix("Bearer ")
            ws_other.send(json.dumps({"type": "doubletoken.authenticate", "token": lasting}))
            while json.loads(ws_other.recv(timeout=5))["type"] != "doubletoken.authenticated":
                pass

            close, ticks = _ticks_until_closed(ws)
            assert (close.code, close.reason) == (CLOSE_CODES["token_expired"],
                                                  "token_expired"), (close, ticks)
            assert time.time() >= expires  # not a moment before the token's own end

            # Several read timeouts later, a revocation still closes a socket at once.
            _next_tick(ws_other)
            logout = requests.post(f"{base}/api/auth/logout/", timeout=30, headers={
                "Authorization": f"Bearer {lasting}"})
            assert logout.status_code == 204
            started = time.monotonic()
            close, _ = _ticks_until_closed(ws_other)
            assert close.reason == "session_revoked"
            assert time.monotonic() - started <= PROMISE
    # Every read of the layer timed out (redis-py's 5 s against channels-redis's 5 s), and
    # none of that was taken for an outage.
    _assert_clean(log)


@pytest.mark.parametrize("frame, code", [
    (b"\x00\x01binary", 1003),  # unsupported data
    ("not JSON {", 1007),  # invalid payload data
    ("", 1007),
])
def test_a_frame_the_example_consumer_cannot_take_closes_it_cleanly(user, password, tmp_path,
                                                                     frame, code):
    log = tmp_path / "uvicorn.log"
    with app_server("uvicorn", workers=1, environ={"TICK_SECONDS": "0.2"}, log=log) as base:
        pair = _login(base, password)
        with _open(base, pair["access"]) as ws:
            _next_tick(ws)
            ws.send(frame)
            close, _ = _ticks_until_closed(ws)
            assert close.code == code, close
        # The connection is gone; whatever the consumer's tasks did after it was logged by
        # now (a tick every 0.2 s).
        time.sleep(1)
        # The server carries on.
        with _open(base, pair["access"]) as ws:
            _next_tick(ws)
    _assert_clean(log)
