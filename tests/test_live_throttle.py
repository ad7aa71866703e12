"""The login throttle against a live gunicorn, from two loopback source addresses (127.0.0.1
and 127.0.0.2): a spoofed X-Forwarded-For neither escapes it nor locks anyone else out."""

import itertools

import pytest
import requests
from requests.adapters import HTTPAdapter

from .servers import app_server

pytestmark = pytest.mark.django_db(transaction=True)

RATE = 3


class SourceAddressAdapter(HTTPAdapter):
    """Connects from a chosen local address, as a second machine would."""

    def __init__(self, source: str, **kwargs) -> None:
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def client_from(source: str) -> requests.Session:
    http = requests.Session()
    http.mount("http://", SourceAddressAdapter(source))
    return http


@pytest.fixture(scope="module")
def spoofed_addresses():
    return (f"198.51.100.{n % 250}" for n in itertools.count())


def _login(http, base, password, **headers):
    return http.post(f"{base}/api/auth/login/", json={"username": "alice", "password": password},
                     headers=headers, timeout=10)


def test_spoofed_forwarded_for_neither_escapes_the_throttle_nor_locks_others_out(
        user, password, spoofed_addresses):
    with app_server("gunicorn", workers=2, threads=4,
                    doubletoken={"LOGIN_THROTTLE_RATE": f"{RATE}/min"}) as base:
        attacker, victim = client_from("127.0.0.2"), client_from("127.0.0.1")
        assert attacker.get(f"{base}/api/auth/jwks/", timeout=5).status_code == 404  # reachable
        answers = []
        for _ in range(RATE + 3):
            # A fresh forged client address each time, and the victim's own address too.
            forged = f"{next(spoofed_addresses)}, 127.0.0.1"
            response = _login(attacker, base, "wrong", **{"X-Forwarded-For": forged,
                                                           "X-Real-IP": next(spoofed_addresses),
                                                           "Forwarded": "for=127.0.0.1"})
            answers.append(response.status_code)
        assert answers == [401] * RATE + [429] * 3, answers
        throttled = response.json()
        assert throttled["code"] == "throttled" and throttled["detail"]
        assert 0 < int(response.headers["Retry-After"]) <= 60

        # 127.0.0.1 was named in every forged header, and is not throttled.
        for _ in range(RATE - 1):
            assert _login(victim, base, "wrong").status_code == 401
        signed_in = _login(victim, base, password)
        assert signed_in.status_code == 200, signed_in.content
        assert _login(victim, base, password).status_code == 429  # its own budget, used up

        # 127.0.0.2 stays throttled, whatever 127.0.0.1 did.
        assert _login(attacker, base, password).status_code == 429


def test_a_declared_proxy_header_is_believed_for_its_last_address(user, password):
    with app_server("gunicorn", workers=1, threads=4,
                    doubletoken={"LOGIN_THROTTLE_RATE": f"{RATE}/min",
                                 "CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR"}) as base:
        proxy = client_from("127.0.0.2")
        # Two clients behind one proxy; the first forges the start of the header.
        first = [_login(proxy, base, "wrong",
                        **{"X-Forwarded-For": f"10.9.8.{n}, 203.0.113.7"}).status_code
                 for n in range(RATE + 1)]
        assert first == [401] * RATE + [429]
        second = _login(proxy, base, password, **{"X-Forwarded-For": "203.0.113.8"})
        assert second.status_code == 200, second.content
