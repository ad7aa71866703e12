"""The contract table (tests/contract.json) run against every face: DRF, Ninja and, for
protected views, plain Django views. Each face must answer each request with the table's
status, ``code`` and headers, and all faces alike (issue 24 §2)."""

import json
import time
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.test.utils import CaptureQueriesContext

from django_doubletoken import dpop, store

from .dpop_keys import ProofKey
from .helpers import access_token, bearer

TABLE = json.loads((Path(__file__).parent / "contract.json").read_text())
FACES = TABLE["faces"]
# The login throttle's count for the test client's address (127.0.0.1).
THROTTLE_KEY = store.throttle_key("doubletoken_login", "127.0.0.1")

pytestmark = pytest.mark.django_db


def _substitute(value, names):
    if isinstance(value, str):
        for name, replacement in names.items():
            value = value.replace(f"${name}", replacement)
        return value
    if isinstance(value, dict):
        return {k: _substitute(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, names) for v in value]
    return value


def _body(row, names):
    """(bytes or None, content type) of the row's request body."""
    if "json" in row:
        return json.dumps(_substitute(row["json"], names)).encode(), "application/json"
    if "form" in row:
        return (urlencode(_substitute(row["form"], names)).encode(),
                "application/x-www-form-urlencoded")
    if "multipart" in row:
        return encode_multipart(BOUNDARY, _substitute(row["multipart"], names)), MULTIPART_CONTENT
    if "raw" in row:
        return row["raw"].encode(), row["content_type"]
    if "nested" in row:
        depth = row["nested"]["depth"]
        field = row["nested"]["field"]
        return (f'{{"{field}": {"[" * depth}{"]" * depth}, "password": "x"}}'.encode(),
                "application/json")
    if "large" in row:
        return b'{"username": "' + b"a" * row["large"] + b'"}', "application/json"
    return None, None


def _send(row, url, names, extra=None):
    data, content_type = _body(row, names)
    extra = extra or (bearer(_substitute(row["bearer"], names)) if "bearer" in row else {})
    kwargs = {"content_type": content_type} if content_type else {}
    return Client().generic(row["method"], url, data or b"", **kwargs, **extra)


def _dpop_login(keys, password):
    """A session bound to ``keys["own"]``, opened through the DRF login with a proof (with
    the server's nonce, which only counts when DPOP_NONCE is on)."""
    url = "http://testserver/api/auth/login/"
    response = Client().post(url, {"username": "alice", "password": password},
                             content_type="application/json",
                             HTTP_DPOP=keys["own"].proof("POST", url,
                                                         nonce=dpop.current_nonce()))
    assert response.status_code == 200 and response.json()["token_type"] == "DPoP", response
    return response.json()


def _dpop_headers(row, url, names, keys):
    """The row's ``dpop``: a proof for this face's URL, made once (a ``repeat`` replays it).
    ``key`` "other": signed by a key the session is not bound to; ``token``: the access
    token sent and hashed (null: none, as at refresh); ``scheme``: of the Authorization
    header; ``claims``: replace or add proof claims; ``htu_suffix``: appended to the URL;
    ``iat_offset``: seconds from now; ``header``: proof header members; ``proof`` false:
    no DPoP header; ``two_headers``: two proofs (as a server joins repeated headers)."""
    spec = row["dpop"]
    key = keys[spec.get("key", "own")]
    token = _substitute(spec.get("token", "$access"), names)
    claims = dict(spec.get("claims", {}))
    htu = claims.pop("htu", f"http://testserver{url}{spec.get('htu_suffix', '')}")
    proof = key.proof(claims.pop("htm", row["method"]), htu, access=token,
                      iat=time.time() + spec.get("iat_offset", 0),
                      header=spec.get("header"), **claims)
    headers = {"HTTP_DPOP": proof} if spec.get("proof", True) else {}
    if spec.get("two_headers"):
        headers["HTTP_DPOP"] += ", " + key.proof(row["method"], htu, access=token)
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"{spec.get('scheme', 'DPoP')} {token}"
    return headers


def _code(response):
    if response.status_code == 204:
        return None
    body = response.json()
    return body.get("code") if isinstance(body, dict) else None


def _value_at(body, path):
    for part in path.split("."):
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


def _check(row, face, response, queries):
    where = (row["id"], face, response.status_code, response.content[:300])
    assert response.status_code == row["status"], where
    if response.status_code != 204:
        assert response["Content-Type"].startswith("application/json"), where
    assert _code(response) == row["code"], where
    # Every refusal names its code, on every face (field errors included).
    assert response.status_code < 400 or row["code"] is not None, where
    for name, expected in row.get("headers", {}).items():
        if expected is None:
            assert name not in response, where
        elif expected == "*":
            assert name in response, where
        else:
            assert response.get(name) == expected, (name, *where)
    if "keys" in row:
        assert sorted(response.json()) == row["keys"], where
    if "errors" in row:
        body = response.json()
        assert sorted(body) == ["code", "detail", "errors"], where
        assert sorted(body["errors"]) == row["errors"], where
        for messages in body["errors"].values():
            assert messages and all(isinstance(m, str) and m for m in messages), where
    for path in row.get("iso8601", []):
        datetime.fromisoformat(_value_at(response.json(), path))
    if "max_queries" in row:
        assert len(queries) <= row["max_queries"], (where, [q["sql"] for q in queries])


@pytest.mark.parametrize("row", TABLE["rows"], ids=[row["id"] for row in TABLE["rows"]])
def test_every_face_answers_as_the_table_says(row, user, password, login, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **row.get("settings", {})}
    answers = {}
    keys = {"own": ProofKey(), "other": ProofKey()}
    for face, prefix in FACES[row.get("face", "auth")].items():
        # Each face gets a session of its own to act on (bound to a key with "dpop_login").
        pair = _dpop_login(keys, password) if row.get("dpop_login") else login()
        names = {"access": pair["access"], "refresh": pair["refresh"],
                 "session_id": pair["session_id"], "password": password,
                 "expired": access_token(pair, remaining=-60), "too_long": "a" * 5000,
                 "stale": access_token(pair, auth_time=int(time.time()) - 3600),
                 "unknown_session": str(uuid.uuid4())}
        url = prefix + _substitute(row["path"], names)
        extra = _dpop_headers(row, url, names, keys) if "dpop" in row else None
        for _ in range(row.get("repeat", 1) - 1):
            _send(row, url, names, extra)
        with CaptureQueriesContext(connection) as queries:
            response = _send(row, url, names, extra)
        _check(row, face, response, queries.captured_queries)
        answers[face] = (response.status_code, _code(response),
                         {name: response.get(name) for name in row.get("headers", {})
                          if row["headers"][name] != "*"})
        store.cache().delete(THROTTLE_KEY)  # the next face starts with a fresh count
    assert len(set(map(repr, answers.values()))) == 1, answers
