"""WebSockets through Django Channels, against real servers: the example project under
uvicorn (the socket's host) and gunicorn (another "host" revoking through the API), a real
WebSocket client (the ``websockets`` package) and channels-redis on the test Redis."""

import json
import time

import jwt
import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from django_doubletoken import dpop, services
from django_doubletoken.channels import CLOSE_CODES
from django_doubletoken.models import DeviceSession
from django_doubletoken.tokens import SessionContext

from .helpers import access_token
from .servers import app_server
from .test_dpop import make_proof, private_key

pytestmark = pytest.mark.django_db(transaction=True)

# DPOP "optional": a login with a proof binds its session, one without stays Bearer.
SETTINGS = {"GRACE_PERIOD": 1, "LEEWAY": 0, "DPOP": "optional"}
# Open sockets of a revoked session close within this many seconds of the revoking call's
# answer, on any worker or host.
PROMISE = 1.0


@pytest.fixture(scope="module")
def hosts(django_db_setup, django_db_blocker):
    """(socket host: uvicorn with 2 workers, API host: gunicorn), sharing DB and Redis."""
    with django_db_blocker.unblock(), \
            app_server("uvicorn", workers=2, doubletoken=SETTINGS,
                       environ={"TICK_SECONDS": "0.5"}) as socket_host, \
            app_server("gunicorn", workers=1, threads=4, doubletoken=SETTINGS) as api_host:
        yield socket_host, api_host


def _ws(base):
    return base.replace("http://", "ws://") + "/ws/notifications/"


def _login(base, password, username="alice"):
    response = requests.post(f"{base}/api/auth/login/", timeout=30,
                             json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def _open(base, token):
    return connect(_ws(base), subprotocols=["doubletoken", token], open_timeout=10)


def _tick(ws, timeout=5.0):
    while True:
        message = json.loads(ws.recv(timeout=timeout))
        if message["type"] == "tick":
            return message


def _closed(ws, timeout=5.0):
    """(code, reason, seconds waited) of the server's close frame."""
    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as info:
        while True:
            ws.recv(timeout=timeout)
    assert info.value.rcvd is not None, "no close frame from the server"
    return info.value.rcvd.code, info.value.rcvd.reason, time.monotonic() - started


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_handshake_with_a_good_token(hosts, user, password):
    socket_host, _ = hosts
    pair = _login(socket_host, password)
    with _open(socket_host, pair["access"]) as ws:
        assert ws.subprotocol == "doubletoken"
        tick = _tick(ws)
        assert tick["user_id"] == user.pk and tick["session_id"] == pair["session_id"]
        ws.send(json.dumps({"hello": "consumer"}))
        while (message := json.loads(ws.recv(timeout=5)))["type"] != "echo":
            pass
        assert message["content"] == {"hello": "consumer"}


def test_handshake_with_the_token_in_the_first_message(hosts, user, password):
    socket_host, _ = hosts
    pair = _login(socket_host, password)
    with connect(_ws(socket_host)) as ws:
        ws.send(json.dumps({"type": "doubletoken.authenticate", "token": pair["access"]}))
        ack = json.loads(ws.recv(timeout=5))
        assert ack["type"] == "doubletoken.authenticated" and isinstance(ack["expires_at"], int)
        assert _tick(ws)["session_id"] == pair["session_id"]


@pytest.mark.parametrize("case, code", [
    ("expired", "token_expired"),
    ("revoked", "session_revoked"),
    ("garbage", "token_invalid"),
    ("refresh token", "token_invalid"),
    ("oversize", "token_invalid"),
    ("marker without token", "token_invalid"),
])
def test_handshake_refused_with_close_code_and_reason(hosts, user, password, case, code):
    socket_host, api_host = hosts
    pair = _login(socket_host, password)
    if case == "revoked":
        assert requests.post(f"{api_host}/api/auth/logout/", headers=_bearer(pair["access"]),
                             timeout=30).status_code == 204
    protocols = {
        "expired": ["doubletoken", access_token(pair, remaining=-5)],
        "revoked": ["doubletoken", pair["access"]],
        "garbage": ["doubletoken", "not.a.jwt"],
        "refresh token": ["doubletoken", pair["refresh"]],
        "oversize": ["doubletoken", "a" * 5000],
        "marker without token": ["doubletoken"],
    }[case]
    with connect(_ws(socket_host), subprotocols=protocols, open_timeout=10,
                 max_size=None) as ws:
        assert _closed(ws)[:2] == (CLOSE_CODES[code], code)


@pytest.mark.parametrize("first", [
    json.dumps({"hello": "consumer"}),
    json.dumps({"type": "doubletoken.authenticate"}),
    "doubletoken.authenticate but not JSON",
])
def test_first_message_that_is_not_a_token(hosts, user, password, first):
    socket_host, _ = hosts
    pair = _login(socket_host, password)
    # The token in the query string is not read: it would land in access logs.
    with connect(_ws(socket_host) + f"?token={pair['access']}") as ws:
        ws.send(first)
        code, reason, _ = _closed(ws)
    expected = "token_invalid" if first == json.dumps({"type": "doubletoken.authenticate"}) \
        else "not_authenticated"
    assert (code, reason) == (CLOSE_CODES[expected], expected)


def test_logout_on_another_host_closes_the_socket_within_a_second(hosts, user, other_user,
                                                                  password):
    socket_host, api_host = hosts
    mine, second, theirs = (_login(socket_host, password), _login(socket_host, password),
                            _login(socket_host, password, "bob"))
    with _open(socket_host, mine["access"]) as ws, \
            _open(socket_host, second["access"]) as ws_second, \
            _open(socket_host, theirs["access"]) as ws_theirs:
        for socket in (ws, ws_second, ws_theirs):
            _tick(socket)
        logout = requests.post(f"{api_host}/api/auth/logout/", headers=_bearer(mine["access"]),
                               timeout=30)
        assert logout.status_code == 204
        code, reason, waited = _closed(ws)
        assert waited <= PROMISE  # after the revocation was committed and answered
        assert (code, reason) == (CLOSE_CODES["session_revoked"], "session_revoked")
        # Other sessions' sockets stay open.
        _tick(ws_second)
        _tick(ws_theirs)
        assert requests.post(f"{api_host}/api/auth/logout-all/",
                             headers=_bearer(second["access"]), timeout=30).status_code == 204
        _, reason, waited = _closed(ws_second)
        assert reason == "session_revoked" and waited <= PROMISE
        _tick(ws_theirs)


def test_reuse_detection_and_password_change_close_sockets(hosts, user, password):
    socket_host, api_host = hosts
    pair, other = _login(socket_host, password), _login(socket_host, password)
    with _open(socket_host, pair["access"]) as ws, _open(socket_host, other["access"]) as ws2:
        _tick(ws)
        first = requests.post(f"{api_host}/api/auth/refresh/", json={"refresh": pair["refresh"]},
                              timeout=30)
        assert first.status_code == 200
        time.sleep(1.2)  # past GRACE_PERIOD: the old refresh token is now reuse
        reused = requests.post(f"{api_host}/api/auth/refresh/",
                               json={"refresh": pair["refresh"]}, timeout=30)
        assert reused.json()["code"] == "refresh_reused"
        _, reason, waited = _closed(ws)
        assert reason == "session_revoked" and waited <= PROMISE
        _tick(ws2)
        user.set_password("a new password")
        user.save()  # in this process: the signal crosses to the socket's host via Redis
        _, reason, waited = _closed(ws2)
        assert reason == "session_revoked" and waited <= PROMISE
    assert not DeviceSession.objects.active().filter(user=user).exists()


def test_admin_action_closes_the_socket(hosts, admin_client, user, password):
    socket_host, _ = hosts
    pair = _login(socket_host, password)
    with _open(socket_host, pair["access"]) as ws:
        _tick(ws)
        response = admin_client.post(
            "/admin/django_doubletoken/devicesession/",
            {"action": "log_out_sessions", "_selected_action": [pair["session_id"]]})
        assert response.status_code == 302
        _, reason, waited = _closed(ws)
        assert reason == "session_revoked" and waited <= PROMISE
    assert DeviceSession.objects.get(pk=pair["session_id"]).revoked_at is not None


def test_socket_closes_at_token_expiry(hosts, user, password):
    socket_host, _ = hosts
    pair = _login(socket_host, password)
    with _open(socket_host, access_token(pair, remaining=2)) as ws:
        _tick(ws)
        code, reason, waited = _closed(ws)
    assert (code, reason) == (CLOSE_CODES["token_expired"], "token_expired")
    assert waited <= 2.5


def test_fresh_token_over_the_socket_keeps_it_open(hosts, user, password):
    socket_host, _ = hosts
    pair = _login(socket_host, password)
    with _open(socket_host, access_token(pair, remaining=2)) as ws:
        fresh = access_token(pair, remaining=600)
        ws.send(json.dumps({"type": "doubletoken.authenticate", "token": fresh}))
        while (message := json.loads(ws.recv(timeout=5)))["type"] != "doubletoken.authenticated":
            pass
        assert message["expires_at"] > time.time() + 500
        deadline = time.monotonic() + 3.5  # well past the first token's expiry
        while time.monotonic() < deadline:
            _tick(ws)


@pytest.mark.parametrize("case, code", [
    ("another session", "token_invalid"),
    ("expired", "token_expired"),
    ("garbage", "token_invalid"),
])
def test_bad_token_over_the_socket_closes_it(hosts, user, password, case, code):
    socket_host, _ = hosts
    pair, other = _login(socket_host, password), _login(socket_host, password)
    token = {"another session": other["access"], "garbage": "x.y.z",
             "expired": access_token(pair, remaining=-5)}[case]
    with _open(socket_host, pair["access"]) as ws:
        _tick(ws)
        ws.send(json.dumps({"type": "doubletoken.authenticate", "token": token}))
        assert _closed(ws)[:2] == (CLOSE_CODES[code], code)


# --- DPoP (RFC 9449): a bound token's socket needs a proof of its key ----------------------


def _bound_session(user):
    """A session bound to a fresh key, as a DPoP login opens one: (tokens, key)."""
    key = private_key("ES256")
    jkt = dpop.jwk_thumbprint(jwt.get_algorithm_by_name("ES256").to_jwk(key.public_key(),
                                                                        as_dict=True))
    return services.login(user, client="web", context=SessionContext(jkt=jkt)), key


def _proof(key, url, token):
    return make_proof(key, htu=url, iat=int(time.time()), ath=dpop.access_token_hash(token))


def test_a_bound_token_on_a_websocket_without_a_proof_is_refused(hosts, user):
    socket_host, _ = hosts
    pair, _ = _bound_session(user)
    with _open(socket_host, pair.access) as ws:
        assert _closed(ws)[:2] == (CLOSE_CODES["invalid_dpop_proof"], "invalid_dpop_proof")
    # Nor in the first message.
    with connect(_ws(socket_host)) as ws:
        ws.send(json.dumps({"type": "doubletoken.authenticate", "token": pair.access}))
        assert _closed(ws)[:2] == (CLOSE_CODES["invalid_dpop_proof"], "invalid_dpop_proof")


def test_a_bound_socket_opens_with_its_proof_once(hosts, user):
    """The proof travels after the "doubletoken.dpop" marker; the server answers the
    "doubletoken" marker; the same proof again (on whichever worker) is a replay."""
    socket_host, _ = hosts
    pair, key = _bound_session(user)
    proof = _proof(key, _ws(socket_host), pair.access)
    protocols = ["doubletoken", pair.access, "doubletoken.dpop", proof]
    with connect(_ws(socket_host), subprotocols=protocols, open_timeout=10) as ws:
        assert ws.subprotocol == "doubletoken"
        assert _tick(ws)["session_id"] == pair.session_id
    for _ in range(2):  # two workers: a replay is refused on both
        with connect(_ws(socket_host), subprotocols=protocols, open_timeout=10) as ws:
            assert _closed(ws)[:2] == (CLOSE_CODES["invalid_dpop_proof"], "invalid_dpop_proof")


def test_dpop_end_to_end_over_http_and_the_socket(hosts, user, password):
    """A DPoP login on one host, the socket on the other, a refresh over HTTP and the renewed
    token sent over the socket with its own proof, then a logout closes the socket."""
    socket_host, api_host = hosts
    key = private_key("ES256")
    login = requests.post(f"{api_host}/api/auth/login/", timeout=30, json={
        "username": "alice", "password": password}, headers={"DPoP": make_proof(
            key, htm="POST", htu=f"{api_host}/api/auth/login/", iat=int(time.time()))})
    assert login.status_code == 200, login.text
    pair = login.json()
    assert pair["token_type"] == "DPoP"
    url = _ws(socket_host)
    with connect(url, open_timeout=10, subprotocols=[
            "doubletoken", pair["access"], "doubletoken.dpop",
            _proof(key, url, pair["access"])]) as ws:
        _tick(ws)
        refreshed = requests.post(f"{api_host}/api/auth/refresh/", timeout=30,
                                  json={"refresh": pair["refresh"]}, headers={
                                      "DPoP": make_proof(key, htm="POST", iat=int(time.time()),
                                                         htu=f"{api_host}/api/auth/refresh/")})
        assert refreshed.status_code == 200, refreshed.text
        fresh = refreshed.json()["access"]
        ws.send(json.dumps({"type": "doubletoken.authenticate", "token": fresh,
                            "dpop": _proof(key, url, fresh)}))
        while (message := json.loads(ws.recv(timeout=5)))["type"] != "doubletoken.authenticated":
            pass
        assert message["expires_at"] > time.time()
        logout = requests.post(f"{api_host}/api/auth/logout/", timeout=30, headers={
            "Authorization": f"DPoP {fresh}",
            "DPoP": make_proof(key, htm="POST", htu=f"{api_host}/api/auth/logout/",
                               iat=int(time.time()), ath=dpop.access_token_hash(fresh))})
        assert logout.status_code == 204, logout.text
        _, reason, waited = _closed(ws)
        assert reason == "session_revoked" and waited <= PROMISE


def test_logout_others_on_another_host_closes_the_other_devices_sockets(hosts, user,
                                                                      other_user, password):
    """Issue 28's "sign out other devices" through the gunicorn host: the other sessions'
    sockets on the uvicorn workers close within the second (a DPoP-bound one included); the
    caller's socket and another user's stay open."""
    socket_host, api_host = hosts
    mine, theirs = _login(socket_host, password), _login(socket_host, password, "bob")
    bound, key = _bound_session(user)
    url = _ws(socket_host)
    with _open(socket_host, mine["access"]) as ws_mine, \
            _open(socket_host, theirs["access"]) as ws_theirs, \
            connect(url, open_timeout=10, subprotocols=[
                "doubletoken", bound.access, "doubletoken.dpop",
                _proof(key, url, bound.access)]) as ws_bound:
        for socket in (ws_mine, ws_theirs, ws_bound):
            _tick(socket)
        answer = requests.post(f"{api_host}/api/auth/logout-others/",
                               headers=_bearer(mine["access"]), timeout=30)
        assert answer.status_code == 200 and answer.json() == {"revoked": 1}, answer.text
        code, reason, waited = _closed(ws_bound)
        assert (code, reason) == (CLOSE_CODES["session_revoked"], "session_revoked")
        assert waited <= PROMISE
        _tick(ws_mine)
        _tick(ws_theirs)
