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
    scope = "doubletoken_login"

    def __init__(self, rate: str | None = None) -> None:
        self.rate = rate if rate is not None else doubletoken_settings.LOGIN_THROTTLE_RATE

    def key(self, request: HttpRequest) -> str:
        return store.throttle_key(self.scope, remote_ident(request))

    def wait(self, request: HttpRequest) -> float | None:
        """Count this request and return None, or, over the rate, how many seconds until the
        next one would be let through. ``ServiceUnavailable`` when the cache is down."""
        if not self.rate:
            return None
        count, duration = parse_rate(self.rate)
        key, now = self.key(request), time.time()
        with store.available():
            cache = store.cache()
            history = [t for t in cache.get(key, []) if t > now - duration]
            if len(history) >= count:
                # Newest first: the next request passes once the count-th newest has aged out.
                return max(history[count - 1] + duration - now, 0.0) if count else duration
            cache.set(key, [now, *history], duration)
        return None


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
