"""The contract table's protected and guarded rows (tests/contract.json) against the Channels
face: a socket whose handshake carries what the row's request carries (the token after the
``doubletoken`` marker, the proof after ``doubletoken.dpop``, for the socket's own URL) opens
where the row answers 200, and otherwise closes with the close code of the row's ``code``,
that code opening its reason. In process (WebsocketCommunicator, channels-redis, the real
Redis of the replay store)."""

import json
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from django_doubletoken.channels import CLOSE_CODES, DoubleTokenAuthMiddleware, step_up_required

from .dpop_keys import ProofKey
from .helpers import access_token
from .test_contract import TABLE, _dpop_login, _substitute

pytestmark = pytest.mark.django_db(transaction=True)

# Rows about the HTTP Authorization scheme, which a socket does not have: there a proof that
# comes with the token is the DPoP scheme (tests/test_channels_dpop.py covers those cases).
HTTP_SCHEME_ROWS = {"dpop-bound-token-as-bearer", "dpop-scheme-without-proof",
                    "dpop-two-proofs", "dpop-scheme-where-dpop-is-off"}
ROWS = [row for row in TABLE["rows"]
        if row.get("face") in ("protected", "guarded") and row["id"] not in HTTP_SCHEME_ROWS]


class EchoConsumer(AsyncWebsocketConsumer):
    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=json.dumps({"session": self.scope["auth"].session_id}))


def application():
    return DoubleTokenAuthMiddleware(URLRouter([
        path("ws/protected/", EchoConsumer.as_asgi()),
        # The guarded views' requirement (tests/stepup_views.py).
        path("ws/guarded/", step_up_required(EchoConsumer.as_asgi(), max_age=300)),
    ]), first_message_timeout=2)


def _credentials(row, url, names, keys):
    """(token, proof) of the row's request, the proof made for the socket's URL."""
    if "dpop" not in row:
        return (_substitute(row["bearer"], names) if "bearer" in row else None), None
    spec = row["dpop"]
    token = _substitute(spec.get("token", "$access"), names)
    claims = dict(spec.get("claims", {}))
    htu = claims.pop("htu", url + spec.get("htu_suffix", ""))
    proof = keys[spec.get("key", "own")].proof(
        claims.pop("htm", "GET"), htu, access=token, iat=time.time() + spec.get("iat_offset", 0),
        header=spec.get("header"), **claims)
    return token, (proof if spec.get("proof", True) else None)


async def _outcome(url, token, proof):
    """("open", session) or ("closed", close code, reason) of one socket."""
    protocols = None
    if token is not None:
        protocols = ["doubletoken", token, *(["doubletoken.dpop", proof] if proof else [])]
    ws = WebsocketCommunicator(application(), url.removeprefix("ws://testserver"),
                               subprotocols=protocols, headers=[(b"host", b"testserver")])
    connected, _ = await ws.connect()
    assert connected
    await ws.send_to(text_data=json.dumps({"hello": "consumer"}))
    message = await ws.receive_output(timeout=5)
    if message["type"] == "websocket.close":
        return "closed", message["code"], message["reason"]
    await ws.disconnect()
    return "open", json.loads(message["text"])["session"]


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_the_socket_face_answers_as_the_table_says(row, user, password, login, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **row.get("settings", {})}
    keys = {"own": ProofKey(), "other": ProofKey()}
    pair = _dpop_login(keys, password) if row.get("dpop_login") else login()
    names = {"access": pair["access"], "expired": access_token(pair, remaining=-60),
             "stale": access_token(pair, auth_time=int(time.time()) - 3600),
             "session_id": pair["session_id"], "unknown_session": str(uuid.uuid4())}
    url = f"ws://testserver/ws/{row['face']}/"
    credentials = _credentials(row, url, names, keys)

    async def go():
        for _ in range(row.get("repeat", 1) - 1):
            await _outcome(url, *credentials)
        return await _outcome(url, *credentials)

    outcome = async_to_sync(go)()
    if row["status"] == 200:
        assert outcome == ("open", pair["session_id"]), (row["id"], outcome)
    else:
        kind, code, reason = outcome
        assert (kind, code, reason.split(" ")[0]) == (
            "closed", CLOSE_CODES[row["code"]], row["code"]), (row["id"], outcome)
