"""The login throttle: ``LOGIN_THROTTLE_RATE`` requests per client per period, counted in the
app's cache (a sliding window of request times, as DRF's ``SimpleRateThrottle`` keeps it, so
the counts are the same whichever face the client logs in through).

The client is its remote address as ``http.remote_ip`` finds it, the one the device list records:
the connection's peer, or the last entry of ``CLIENT_IP_HEADER`` when the project says a proxy
sets that header, never a forwarded address the client could pick itself.
"""

from __future__ import annotations

import ipaddress
import time

from django.http import HttpRequest

from .. import store
from ..conf import doubletoken_settings
from ..http import remote_ip

# An IPv6 client is usually handed a whole /64: counting single addresses would give it
# 2**64 fresh identities.
IPV6_PREFIX = 64
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def remote_ident(request: HttpRequest) -> str:
    """The throttle's key for the request's remote address: the IPv4 address or the IPv6 /64."""
    ip = remote_ip(request)
    if ip is None:
        return "unknown"
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return ip


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/min"`` → (10, 60): how many requests per how many seconds."""
    count, period = rate.split("/")
    return int(count), PERIODS[period[0]]


class LoginThrottle:
    """Counted, with DRF's semantics (a refused request is not counted; Retry-After is when
    the rate's oldest counted request ages out), by ``store``: in the round trip that writes
    the new session when the login succeeds (``hit``, ``services.login(throttle=...)``), or
    on its own (``wait``)."""

    scope = "doubletoken_login"

    def __init__(self, rate: str | None = None) -> None:
        self.rate = rate if rate is not None else doubletoken_settings.LOGIN_THROTTLE_RATE

    def key(self, request: HttpRequest) -> str:
        return store.throttle_key(self.scope, remote_ident(request))

    def hit(self, request: HttpRequest) -> store.ThrottleHit | None:
        """This request's count, for ``store``; None when there is no rate."""
        if not self.rate:
            return None
        count, duration = parse_rate(self.rate)
        return store.ThrottleHit(self.key(request), count, duration)

    def wait(self, request: HttpRequest) -> float | None:
        """Count this request and return None, or, over the rate, how many seconds until the
        next one would be let through. ``ServiceUnavailable`` when the cache is down."""
        hit = self.hit(request)
        wait = None if hit is None else store.count_request(hit)
        note_refused(hit, wait)
        return wait

    @classmethod
    def counts_with_the_session(cls) -> bool:
        """Whether ``hit`` may be counted in the session's write (a subclass that overrides
        only ``wait`` is asked before the credentials, as a DRF throttle is)."""
        return cls.wait is LoginThrottle.wait and cls.hit is LoginThrottle.hit


class ReauthenticationThrottle(LoginThrottle):
    """``reauthenticate/``'s throttle: ``LOGIN_THROTTLE_RATE`` attempts per session (the
    caller's access token names it), so that a stolen access token cannot try passwords
    faster than a login could, from however many addresses."""

    scope = "doubletoken_reauthenticate"

    def __init__(self, session_id: str, rate: str | None = None) -> None:
        super().__init__(rate)
        self.session_id = session_id

    def key(self, request: HttpRequest) -> str:
        return store.throttle_key(self.scope, self.session_id)


# A login is counted after its credentials are checked, in the round trip that opens its
# session. So that a throttled client cannot make each worker hash password after password,
# a worker remembers whom it refused until when, and asks the cache before the credentials
# for them (as DRF's throttles always do): the answer is still the cache's, this only says
# when to ask first. Bounded: entries past their time are dropped when it fills.
_refused_until: dict[str, float] = {}
REFUSED_MEMORY = 4096


def note_refused(hit: store.ThrottleHit | None, wait: float | None) -> None:
    if hit is None:
        return
    if wait is None:
        _refused_until.pop(hit.key, None)
        return
    if len(_refused_until) >= REFUSED_MEMORY:
        now = time.time()
        for key in [k for k, until in _refused_until.items() if until <= now]:
            del _refused_until[key]
        if len(_refused_until) >= REFUSED_MEMORY:
            _refused_until.clear()
    _refused_until[hit.key] = time.time() + wait


def recently_refused(hit: store.ThrottleHit) -> bool:
    until = _refused_until.get(hit.key)
    return until is not None and until > time.time()
